"""Load generators: Debian's wrk (throughput, latency) and a small aiohttp client
(time to first token, many concurrent slow streams)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "post.lua"


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: int  # connect + read + write + timeouts + HTTP 4xx/5xx
    status_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_wrk_output(output: str) -> WrkResult:
    """Read the BENCH_JSON line post.lua prints at the end of a wrk run."""
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
            break
    else:
        raise RuntimeError(f"wrk printed no result line:\n{output[-2000:]}")
    errors = (
        data["connect_errors"]
        + data["read_errors"]
        + data["write_errors"]
        + data["status_errors"]
        + data["timeouts"]
    )
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        status_errors=data["status_errors"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
    )


def merge_wrk(results: list[WrkResult]) -> WrkResult | None:
    """Rounds of one phase as one: counts add up; percentiles are the median of the rounds'."""
    if not results:
        return None

    def mid(values: list[float]) -> float:
        return (
            sorted(values)[len(values) // 2]
            if len(values) % 2
            else sum(sorted(values)[len(values) // 2 - 1 :][:2]) / 2
        )

    return WrkResult(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        errors=sum(r.errors for r in results),
        status_errors=sum(r.status_errors for r in results),
        p50_ms=mid([r.p50_ms for r in results]),
        p90_ms=mid([r.p90_ms for r in results]),
        p99_ms=mid([r.p99_ms for r in results]),
        max_ms=max(r.max_ms for r in results),
        mean_ms=sum(r.mean_ms * r.requests for r in results) / max(sum(r.requests for r in results), 1),
    )


def run_wrk(
    url: str, *, body_file: Path, key: str = "", connections: int, seconds: float, timeout_s: int = 10
) -> WrkResult:
    threads = max(1, min(connections, 2))
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_KEY": key}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    return parse_wrk_output(done.stdout + done.stderr)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class StreamStats:
    ttft_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    max_open: int = 0
    seconds: float = 0.0

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


def merge_streams(results: list[StreamStats]) -> StreamStats | None:
    if not results:
        return None
    merged = StreamStats()
    for stats in results:
        merged.ttft_ms += stats.ttft_ms
        merged.total_ms += stats.total_ms
        merged.errors += stats.errors
        for kind, count in stats.error_kinds.items():
            merged.error_kinds[kind] = merged.error_kinds.get(kind, 0) + count
        merged.max_open = max(merged.max_open, stats.max_open)
        merged.seconds += stats.seconds
    return merged


def _headers(key: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


async def _one_stream(
    session: aiohttp.ClientSession, url: str, body: bytes, key: str, stats: StreamStats, gauge: list[int]
) -> None:
    started = time.perf_counter()
    opened = False
    try:
        async with session.post(url, data=body, headers=_headers(key)) as response:
            if response.status != 200:
                await response.read()
                stats.error(f"http {response.status}")
                return
            tail = b""
            async for chunk in response.content.iter_any():
                if not opened and b"data:" in chunk:
                    opened = True
                    stats.ttft_ms.append((time.perf_counter() - started) * 1000)
                    gauge[0] += 1
                    stats.max_open = max(stats.max_open, gauge[0])
                tail = (tail + chunk)[-64:]
            if b"[DONE]" not in tail:
                stats.error("stream ended without [DONE]")
                return
            stats.total_ms.append((time.perf_counter() - started) * 1000)
    except (TimeoutError, aiohttp.ClientError) as exc:
        stats.error(type(exc).__name__)
    finally:
        if opened:
            gauge[0] -= 1


async def _sequential_streams(
    url: str, body: bytes, key: str, seconds: float, max_requests: int
) -> StreamStats:
    stats = StreamStats()
    gauge = [0]
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        # One warm-up request opens the keep-alive connection outside the measurement.
        await _one_stream(session, url, body, key, StreamStats(), gauge)
        started = time.perf_counter()
        count = 0
        while count < max_requests and time.perf_counter() - started < seconds:
            await _one_stream(session, url, body, key, stats, gauge)
            count += 1
        stats.seconds = time.perf_counter() - started
    return stats


def time_to_first_token(
    url: str, *, body: bytes, key: str = "", seconds: float, max_requests: int = 400
) -> StreamStats:
    """Streams one after another on one connection (concurrency 1): time to the first SSE event."""
    return asyncio.run(_sequential_streams(url, body, key, seconds, max_requests))


async def _concurrent_streams(url: str, body: bytes, key: str, count: int, timeout_s: float) -> StreamStats:
    stats = StreamStats()
    gauge = [0]
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(_one_stream(session, url, body, key, stats, gauge) for _ in range(count)))
        stats.seconds = time.perf_counter() - started
    return stats


def concurrent_streams(
    url: str, *, body: bytes, key: str = "", count: int, timeout_s: float = 120
) -> StreamStats:
    """Open ``count`` streams at once and read them all to the end."""
    return asyncio.run(_concurrent_streams(url, body, key, count, timeout_s))
