"""Observed latency and throughput per endpoint, for ``provider.sort`` = latency / throughput.

Exponentially weighted moving averages in this process's memory: each process learns
from the requests it serves, which is enough to rank endpoints (the figures steer an
order, they are not billed or shown). An endpoint never observed ranks after observed ones.
"""

from __future__ import annotations

from dataclasses import dataclass

ALPHA = 0.2  # weight of the newest observation


@dataclass
class Figures:
    latency_ms: float | None = None  # to the first token (streams) or the whole answer
    throughput: float | None = None  # completion tokens per second of generation


_figures: dict[int, Figures] = {}


def _ewma(old: float | None, new: float) -> float:
    return new if old is None else old + ALPHA * (new - old)


def record_latency(endpoint_id: int, ms: float) -> None:
    figures = _figures.setdefault(endpoint_id, Figures())
    figures.latency_ms = _ewma(figures.latency_ms, ms)


def record_throughput(endpoint_id: int, tokens: int, seconds: float) -> None:
    if tokens <= 0 or seconds <= 0:
        return
    figures = _figures.setdefault(endpoint_id, Figures())
    figures.throughput = _ewma(figures.throughput, tokens / seconds)


def figures(endpoint_id: int) -> Figures:
    return _figures.get(endpoint_id) or Figures()


def reset() -> None:
    _figures.clear()
