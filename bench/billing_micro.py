"""The hold and the settlement alone, strict against batched, in one process and one run.

No HTTP, no upstream: what is left is the database work of the hot path, which is what
``BILLING_MODE`` changes. On one uvloop event loop (a gateway worker), the API's own calls
(``reserve_async``, then ``settle_shielded``):

* concurrency 1: requests one after another, the modes alternating request by request, wall
  time per request;
* concurrency 32: 32 tasks requesting in a loop, on one account or spread over ``--accounts``
  accounts: requests/s, this process's CPU per request, the CPU of the database backends
  serving it (``/proc/<pid>/stat`` of the pool's backends), and transactions per request
  (``pg_stat_database``, and the statements sent on the pool, each its own transaction).

The modes alternate round after round. Uses the benchmark database that
``python -m bench.billing_modes`` prepared (``BENCH_DATABASE_URL``, default that run's
``pg_bench_modes``).

    python -m bench.billing_micro [--seconds 3] [--rounds 2] [--accounts 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from bench import billing_modes, micro
from bench.procs import cpu_seconds

MODES = ("strict", "batched")


async def _backends() -> list[int]:
    """The pool's backends (this process's: the pool is this event loop's)."""
    from promptgrid import pgpool

    query = (
        "SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = %s"
    )
    return await pgpool.fetch_value(query, [pgpool.APPLICATION_NAME]) or []


async def _xacts() -> int:
    from promptgrid import pgpool

    query = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
    return await pgpool.fetch_value(query, [])


def sequential(key: Any, snapshot: Any, requests: int) -> dict[str, dict[str, float]]:
    """Requests one after another, the modes alternating request by request (so the machine's
    noise falls on both alike): wall time per request, by mode."""
    from django.conf import settings

    walls = dict.fromkeys(MODES, 0.0)

    async def loop() -> None:
        for _ in range(10):
            await micro.one_request_async(key, snapshot)
        for _ in range(requests):
            for mode in MODES:
                settings.BILLING_MODE = mode
                wall0 = time.perf_counter()
                await micro.one_request_async(key, snapshot)
                walls[mode] += time.perf_counter() - wall0

    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(loop())
    return {mode: {"wall_ms": wall * 1000 / requests} for mode, wall in walls.items()}


class StatementCounter:
    """Counts the statements the hot path sends on the async pool: each is one transaction."""

    def __init__(self) -> None:
        from promptgrid import pgpool

        self.count = 0
        self._fetch = pgpool.fetch_value

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return await self._fetch(*args, **kwargs)


def concurrent(keys: list[Any], snapshot: Any, seconds: float) -> dict[str, float]:
    import uvloop

    from promptgrid import pgpool

    done = 0

    async def worker(key: Any, stop: float) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await micro.one_request_async(key, snapshot)
            done += 1

    async def load() -> dict[str, float]:
        nonlocal done
        await asyncio.gather(*(micro.one_request_async(k, snapshot) for k in keys))  # open the pool
        await asyncio.sleep(1.5)  # statistics are published a second after a backend idles
        backends = await _backends()
        xacts0 = await _xacts()
        db0 = {pid: cpu_seconds(pid) for pid in backends}
        counter = StatementCounter()
        pgpool.fetch_value = counter
        done = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        try:
            await asyncio.gather(*(worker(k, wall0 + seconds) for k in keys))
        finally:
            pgpool.fetch_value = counter._fetch
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        db_cpu = sum(cpu_seconds(pid) - db0.get(pid, 0.0) for pid in backends)
        await asyncio.sleep(1.5)
        xacts = await _xacts() - xacts0 - 1  # less the read of xacts0
        n = max(done, 1)
        return {
            "requests": done,
            "rps": done / wall,
            "cpu_ms": cpu * 1000 / n,
            "db_cpu_ms": db_cpu * 1000 / n,
            "xacts": xacts / n,
            "statements": counter.count / n,
        }

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(load())


def _mean(runs: list[dict[str, float]], key: str) -> float:
    weights = [r.get("requests", 1) for r in runs]
    return sum(r[key] * w for r, w in zip(runs, weights, strict=True)) / max(sum(weights), 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.billing_micro", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200, help="at concurrency 1, per round")
    parser.add_argument("--accounts", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    os.environ.setdefault("BENCH_DATABASE_URL", billing_modes.DEFAULT_DATABASE_URL)
    os.environ.setdefault("BENCH_REDIS_URL", billing_modes.DEFAULT_REDIS_URL)
    micro.setup_django()
    from django.conf import settings

    from catalog.snapshot import get_snapshot

    settings.GATEWAY_DB_ASYNC = True
    snapshot = get_snapshot()
    key = micro.bench_key()
    spread = micro.extra_keys(args.accounts)
    many = [spread[i % len(spread)] for i in range(args.concurrency)]
    results: dict[str, dict[str, list[dict[str, float]]]] = {
        m: {"c1": [], "one": [], "many": []} for m in MODES
    }
    for _ in range(args.rounds):
        for mode, result in sequential(key, snapshot, args.requests).items():
            results[mode]["c1"].append(result)
        for mode in MODES:
            settings.BILLING_MODE = mode
            results[mode]["one"].append(concurrent([key] * args.concurrency, snapshot, args.seconds))
            results[mode]["many"].append(concurrent(many, snapshot, args.seconds))
    c = args.concurrency
    rows = [
        ("wall per request, concurrency 1 (ms)", "c1", "wall_ms", "{:.2f}"),
        (f"requests/s, concurrency {c}, one account", "one", "rps", "{:.0f}"),
        (f"requests/s, concurrency {c}, {args.accounts} accounts", "many", "rps", "{:.0f}"),
        ("gateway CPU per request, one account (ms)", "one", "cpu_ms", "{:.3f}"),
        ("PostgreSQL backends' CPU per request, one account (ms)", "one", "db_cpu_ms", "{:.3f}"),
        (
            f"PostgreSQL backends' CPU per request, {args.accounts} accounts (ms)",
            "many",
            "db_cpu_ms",
            "{:.3f}",
        ),
        ("statements (transactions) sent per request, one account", "one", "statements", "{:.2f}"),
        (
            f"statements (transactions) sent per request, {args.accounts} accounts",
            "many",
            "statements",
            "{:.2f}",
        ),
        ("pg_stat_database transactions per request, one account", "one", "xacts", "{:.2f}"),
    ]
    command = "python -m bench.billing_micro " + " ".join(argv or __import__("sys").argv[1:])
    lines = [
        f"Command: `{command.strip()}`; {args.rounds} round(s), the modes in turn.",
        "",
        "| | strict | batched | batched ÷ strict |",
        "|---|---:|---:|---:|",
    ]
    for title, phase, key_name, fmt in rows:
        s, b = _mean(results["strict"][phase], key_name), _mean(results["batched"][phase], key_name)
        lines.append(f"| {title} | {fmt.format(s)} | {fmt.format(b)} | {b / s if s else 0:.2f}× |")
    for mode in MODES:
        hot = _mean(results[mode]["one"], "rps") / _mean(results[mode]["many"], "rps")
        lines.append(f"| one account ÷ {args.accounts} accounts, {mode} | | | {hot:.2f}× |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
