"""Prometheus metrics of the gateway, correct with one process or many.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several workers: the production start script
sets it and empties the folder first), prometheus-client keeps every value in a
memory-mapped file per process and a scrape adds them up; otherwise values live in
this process and the default registry is exposed. The choice is made by
prometheus-client when it is first imported, so the variable must be in the
environment before the process starts.

Recording is cheap by design: a dictionary look-up for the label set and an
in-memory add under a short per-value lock. No I/O on the request path.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = ["CONTENT_TYPE_LATEST", "render"]

# LLM calls take from tens of milliseconds (cache hits, errors) to minutes (long generations).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)

REQUESTS = Counter(
    "promptgrid_requests",
    "Chat completion requests by model, provider and HTTP status.",
    ["model", "provider", "status"],
)
REQUEST_LATENCY = Histogram(
    "promptgrid_request_latency_seconds",
    "Time from request to the last byte of the answer.",
    ["model", "provider"],
    buckets=LATENCY_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "promptgrid_time_to_first_token_seconds",
    "Time from request to the first content sent to the client (streams and whole answers).",
    ["model", "provider"],
    buckets=TTFT_BUCKETS,
)
TOKENS = Counter(
    "promptgrid_tokens",
    "Tokens counted for billing, by direction (prompt or completion).",
    ["model", "provider", "direction"],
)
COST = Counter(
    "promptgrid_cost_usd",
    "Amount charged to users, in US dollars.",
    ["model", "provider"],
)
UPSTREAM_ERRORS = Counter(
    "promptgrid_upstream_errors",
    "Failed upstream attempts by provider and error class.",
    ["provider", "kind"],
)
OPEN_STREAMS = Gauge(
    "promptgrid_open_streams",
    "Streaming responses currently open.",
    multiprocess_mode="livesum",
)
HOLDS_IN_FLIGHT = Gauge(
    "promptgrid_holds_in_flight",
    "Credit holds placed and not yet settled or released by this gateway's requests.",
    multiprocess_mode="livesum",
)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def _forget_dead_workers(path: str) -> None:
    """Drop the live-gauge files of workers that died without a goodbye.

    A crashed or recycled worker leaves its open-streams count behind; 'livesum'
    gauges must only add up processes that are still running.
    """
    for file in Path(path).glob("gauge_live*_*.db"):
        pid_text = file.stem.rsplit("_", 1)[-1]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid_text), path)
        except PermissionError:  # alive, owned by someone else
            continue


def render() -> bytes:
    """The exposition text for a scrape (reads files in multiprocess mode: call off the loop)."""
    path = multiprocess_dir()
    if path:
        _forget_dead_workers(path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
