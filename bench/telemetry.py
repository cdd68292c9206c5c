"""The per-request bookkeeping after settlement, alone: the request log line with its metrics,
and the live dashboard event. CPU of this process per request, with the real settings.

    python -m bench.telemetry [--requests 20000] [--rate 2000] [--users 1,50]

``request_done``: N calls in a loop (JSON log line written to /dev/null through the LOGGING
handler, Prometheus in multiprocess mode in a temporary folder), CPU per call.

Live events: N generations at a steady rate (``--rate`` per second) on one event loop,
spread over ``--users`` users, against the channel layer of the settings (Redis, db 12 by
default). CPU per generation is the run's CPU minus that of the same paced loop doing
nothing, so the pacing itself is not counted; the channel layer's sends are counted too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

PAYLOAD = {
    "id": "gen-1767225600-abcdefghijklmnopqrst",
    "model": "openai/gpt-4o-mini",
    "provider": "OpenAI",
    "status": "success",
    "streamed": False,
    "prompt_tokens": 120,
    "completion_tokens": 64,
    "cost_nanos": 56_400,
    "balance_nanos": 4_999_943_600,
    "latency_ms": 35,
    "ttft_ms": 8,
    "created_at": "2026-01-01T00:00:00+00:00",
    "key_id": 7,
}


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/promptgrid_telemetry")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
    os.environ.setdefault("SECRET_KEY", "bench-telemetry-not-a-secret-0123456789abcdefghijklmnop")
    # Multiprocess mode, as production runs it; decided when prometheus_client is first imported.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="pg-bench-prom-"))
    import django

    django.setup()
    # Production writes the line to a pipe or file; here the same handler writes to /dev/null.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # lives as long as the process


def per_call_us(calls: int, run: Callable[[], None]) -> float:
    start = time.process_time()
    run()
    return (time.process_time() - start) / calls * 1e6


def bench_request_done(calls: int) -> float:
    from gateway.pipeline import telemetry
    from promptgrid.observability.request_id import _request_id

    _request_id.set("req-0123456789abcdef0123456789abcdef")

    def run() -> None:
        for i in range(calls):
            telemetry.request_done(
                request_id="req-0123456789abcdef0123456789abcdef",
                generation_id="gen-1767225600-abcdefghijklmnopqrst",
                status=200,
                model="openai/gpt-4o-mini",
                provider="openai",
                key_id=7,
                streamed=bool(i & 1),
                prompt_tokens=120,
                completion_tokens=64,
                cost_nanos=56_400,
                latency_ms=35.4,
                ttft_ms=8.0,
            )

    per_call_us(min(calls, 500), run)  # warm up: label children, regex caches
    return per_call_us(calls, run)


class SendCounter:
    """Wraps the channel layer's group_send to count what reaches Redis."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.sends = 0
        self.original = layer.group_send

    async def __call__(self, group: str, message: dict[str, Any]) -> None:
        self.sends += 1
        await self.original(group, message)


OneRequest = Callable[[int], Awaitable[None] | None]


async def paced(requests: int, rate: float, users: int, one: OneRequest) -> float:
    """CPU seconds for ``requests`` calls of ``one(user_id)`` at ``rate`` per second, then a drain."""
    from gateway.pipeline.settlement import keep

    batch = 20
    start = time.process_time()
    for i in range(0, requests, batch):
        for j in range(i, min(i + batch, requests)):
            result = one(1_000_000 + j % users)
            if result is not None:  # as Flight._after did: a task per request
                keep(asyncio.ensure_future(result))
        await asyncio.sleep(batch / rate)
    await asyncio.sleep(0.5)  # let the last window and pending sends finish
    return time.process_time() - start


async def bench_events(requests: int, rate: float, users: int) -> list[tuple[str, float, int]]:
    from channels.layers import get_channel_layer

    from gateway.dashboard import live_events as events

    layer = get_channel_layer()
    counter = SendCounter(layer)
    layer.group_send = counter

    def nothing(user_id: int) -> None:
        return None

    def awaited_publish(user_id: int) -> Awaitable[None]:
        return events.publish(user_id, "generation", dict(PAYLOAD))

    variants: list[tuple[str, OneRequest]] = [
        ("publish, awaited per request (the old path)", awaited_publish)
    ]
    if hasattr(events, "publish_soon"):

        def coalesced(user_id: int) -> None:
            events.publish_soon(user_id, "generation", dict(PAYLOAD))

        variants.append(("publish_soon, coalesced (Flight._after now)", coalesced))

    await paced(min(requests, 500), rate * 4, users, awaited_publish)  # warm up the connection pool
    empty = await paced(requests, rate, users, nothing)
    results = []
    for name, one in variants:
        counter.sends = 0
        cpu = await paced(requests, rate, users, one)
        results.append((name, max(cpu - empty, 0.0) / requests * 1e6, counter.sends))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=2_000.0, help="generations per second (events)")
    parser.add_argument("--users", default="1,50", help="comma-separated user counts (events)")
    args = parser.parse_args()
    setup_django()

    done = bench_request_done(args.requests)
    print(f"request_done (log line + metrics): {done:7.1f} µs CPU per call ({args.requests} calls)")

    import uvloop

    for users in (int(u) for u in args.users.split(",")):
        results = uvloop.run(bench_events(args.requests, args.rate, users))
        for name, cpu_us, sends in results:
            print(
                f"events, {users:3d} user(s), {args.rate:.0f}/s: {name:45s} "
                f"{cpu_us:7.1f} µs CPU per generation, {sends} sends for {args.requests}"
            )


if __name__ == "__main__":
    main()
