"""Strict against batched settlement (``BILLING_MODE``), side by side in one run.

Two PromptGrid services on one benchmark database, the same fake upstream, ``wrk``:
``BILLING_MODE=strict`` and ``BILLING_MODE=batched``, each uvicorn with ``--workers`` workers.
Phases visit both services in turn, round after round (the machine is shared: read the ratios):

* latency p50 at concurrency 1;
* throughput at concurrency 32, all load on one account (one key);
* throughput at concurrency 32 spread over ``--accounts`` accounts (a key each, rotated per request);

and around every concurrency-32 phase: the gateway processes' CPU per request, the CPU of the
database backends serving that service (``/proc/<pid>/stat`` of the ``pg_stat_activity`` pids
with its ``application_name``), and PostgreSQL's transactions and rows per request
(``pg_stat_database``).

    python -m bench.billing_modes [--seconds 3] [--rounds 2] [--workers 2] [--accounts 64]

Databases: ``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/pg_bench_modes``,
recreated; only ``pg_bench*`` names are dropped) and ``BENCH_REDIS_URL`` (default db 9, flushed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import loadgen, run
from bench.procs import PYTHON, ROOT, cpu_seconds, tree_cpu_seconds

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pg_bench_modes"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
MODES = ("strict", "batched")
KEYS_SCRIPT = Path(__file__).resolve().parent / "wrk" / "post_keys.lua"


@dataclass
class Mode:
    name: str
    url: str = ""
    service: Any = None
    app_name: str = ""
    results: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def _seed_accounts(env: dict[str, str], count: int) -> list[str]:
    """``count`` more users with credits and a key each, made in a child (Django set up there)."""
    argv = [PYTHON, "-m", "bench.billing_modes", "--seed", str(count)]
    done = subprocess.run(
        argv, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def seed(count: int) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from accounts.services import api_key_create
    from billing.services import account_for_user, credits_grant

    for i in range(count):
        user = get_user_model().objects.create(username=f"bench-{i}", email=f"bench-{i}@promptgrid.invalid")
        account = account_for_user(user=user)
        credits_grant(
            account=account, amount_nanos=10**15, memo="benchmark credits", idempotency_key=f"bench:{i}"
        )
        print(api_key_create(user=user, name="bench")[1])


def _backend_pids(database_url: str, app_name: str) -> list[int]:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            (app_name,),
        ).fetchall()
    return [row[0] for row in rows]


def _wrk_keys(url: str, body_file: Path, keys: list[str], seconds: float) -> loadgen.WrkResult:
    argv = [
        "wrk",
        "-t2",
        "-c32",
        f"-d{max(1, round(seconds))}s",
        "--timeout=10s",
        "-s",
        str(KEYS_SCRIPT),
        url,
    ]
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_KEYS": ",".join(keys)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    return loadgen.parse_wrk_output(done.stdout + done.stderr)


def _measured(cfg: run.Config, mode: Mode, load: Any) -> dict[str, float]:
    """One concurrency-32 phase with its CPU and database counters."""
    time.sleep(1.5)  # PostgreSQL publishes a backend's statistics a second after it idles
    backends = _backend_pids(cfg.database_url, mode.app_name)
    db_cpu0 = {pid: cpu_seconds(pid) for pid in backends}
    pids = mode.service.pids()
    cpu0, counters0 = tree_cpu_seconds(pids), run.db_counters(cfg)
    result = load()
    cpu1 = tree_cpu_seconds(pids)
    db_cpu = sum(
        cpu_seconds(pid) - db_cpu0.get(pid, 0.0) for pid in _backend_pids(cfg.database_url, mode.app_name)
    )
    time.sleep(1.5)
    counters1 = run.db_counters(cfg) or {}
    n = max(result.requests, 1)
    return {
        "requests": result.requests,
        "rps": result.rps,
        "errors": result.errors,
        "p99_ms": result.p99_ms,
        "cpu_ms": (cpu1 - cpu0) * 1000 / n,
        "db_cpu_ms": db_cpu * 1000 / n,
        **{f"{k}_per_request": (counters1.get(k, 0) - v) / n for k, v in (counters0 or {}).items()},
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _combined(runs: list[dict[str, float]]) -> dict[str, float]:
    """Rounds as one: requests-weighted per-request figures, summed throughput, median p50/p99."""
    total = sum(r["requests"] for r in runs) or 1
    out: dict[str, float] = {"requests": total}
    for key in runs[0]:
        if key in ("p50_ms", "p99_ms"):
            out[key] = _median([r[key] for r in runs])
        elif key == "errors":
            out[key] = sum(r[key] for r in runs)
        elif key != "requests":
            out[key] = sum(r[key] * r["requests"] for r in runs) / total
    return out


def render(cfg: run.Config, modes: list[Mode], accounts: int, started: str) -> str:
    strict, batched = (m.results for m in modes)
    rows = [
        ("latency p50, concurrency 1 (ms)", "c1", "p50_ms", "{:.2f}"),
        ("throughput c=32, one account (req/s)", "one", "rps", "{:.0f}"),
        (f"throughput c=32, {accounts} accounts (req/s)", "many", "rps", "{:.0f}"),
        ("p99 c=32, one account (ms)", "one", "p99_ms", "{:.1f}"),
        ("errors c=32 (one + many)", "errors", "errors", "{:.0f}"),
        ("gateway CPU per request, one account (ms)", "one", "cpu_ms", "{:.2f}"),
        ("PostgreSQL backends' CPU per request, one account (ms)", "one", "db_cpu_ms", "{:.3f}"),
        (f"PostgreSQL backends' CPU per request, {accounts} accounts (ms)", "many", "db_cpu_ms", "{:.3f}"),
        ("DB transactions per request, one account", "one", "xacts_per_request", "{:.2f}"),
        (f"DB transactions per request, {accounts} accounts", "many", "xacts_per_request", "{:.2f}"),
        ("DB rows inserted per request, one account", "one", "inserted_per_request", "{:.2f}"),
        ("DB rows updated per request, one account", "one", "updated_per_request", "{:.2f}"),
    ]
    combined = {
        name: {phase: _combined(runs) for phase, runs in res.items() if runs}
        for name, res in (("strict", strict), ("batched", batched))
    }
    for res in combined.values():
        res["errors"] = {"errors": res["one"]["errors"] + res["many"]["errors"]}
    lines = [
        f"### Billing modes: {started}",
        "",
        f"Command: `{cfg.command}`; uvicorn, {cfg.workers} workers per service; {cfg.rounds} round(s) of "
        f"{cfg.seconds:g} s per phase, the two services in turn.",
        "",
        "| | strict | batched | batched ÷ strict |",
        "|---|---:|---:|---:|",
    ]
    for title, phase, key, fmt in rows:
        s, b = combined["strict"][phase].get(key), combined["batched"][phase].get(key)
        if s is None or b is None:
            continue
        ratio = f"{b / s:.2f}×" if s else "—"
        lines.append(f"| {title} | {fmt.format(s)} | {fmt.format(b)} | {ratio} |")
    for name, res in combined.items():
        hot = res["one"]["rps"] / res["many"]["rps"]
        lines.append(f"| one account ÷ {accounts} accounts, {name} | | | {hot:.2f}× |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.billing_modes", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--accounts", type=int, default=64)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # the seeding child
    args = parser.parse_args(argv)
    if args.seed:
        seed(args.seed)
        return
    os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    cfg = run.parse_args(["--quick", "--seconds", str(args.seconds), "--rounds", str(args.rounds)])
    cfg.workers = args.workers
    cfg.command = "python -m bench.billing_modes " + " ".join(sys.argv[1:] if argv is None else argv)
    cfg.body_file.write_text(json.dumps(run.BODY))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    session = run.Session(cfg)
    modes = [Mode(name) for name in MODES]
    try:
        fake = session.start(run.fake_service(cfg, "fake"))
        upstream = f"http://127.0.0.1:{fake.port}/v1"
        env = run.promptgrid_env(cfg, upstream)
        key = run.setup_promptgrid(cfg, upstream, env)
        keys = [key, *_seed_accounts(env, args.accounts - 1)]
        for mode in modes:
            mode.app_name = f"promptgrid bench {mode.name}"
            mode_env = {
                **env,
                "BILLING_MODE": mode.name,
                "DATABASE_URL": f"{cfg.database_url}?application_name={mode.app_name.replace(' ', '%20')}",
            }
            mode.service = session.start(
                run.promptgrid_service(
                    cfg, upstream, mode_env, server="uvicorn", workers=cfg.workers, name=mode.name
                )
            )
            mode.url = f"http://127.0.0.1:{mode.service.port}/api/v1/chat/completions"
            run.log(f"{mode.name}: warm-up")
            run.warm_up(cfg, mode.url, key)
            mode.results = {"c1": [], "one": [], "many": []}
        for round_no in range(cfg.rounds):
            run.log(f"round {round_no + 1}/{cfg.rounds}")
            for mode in modes:
                c1 = loadgen.run_wrk(
                    mode.url, body_file=cfg.body_file, key=key, connections=1, seconds=cfg.seconds
                )
                mode.results["c1"].append({"requests": c1.requests, "p50_ms": c1.p50_ms})
                mode.results["one"].append(
                    _measured(cfg, mode, lambda m=mode: loadgen.run_wrk(
                        m.url, body_file=cfg.body_file, key=key, connections=32, seconds=cfg.seconds))
                )  # fmt: skip
                mode.results["many"].append(
                    _measured(cfg, mode, lambda m=mode: _wrk_keys(m.url, cfg.body_file, keys, cfg.seconds))
                )
    finally:
        session.stop_all()
    report = render(cfg, modes, args.accounts, started)
    run.RESULTS_DIR.mkdir(exist_ok=True)
    path = run.RESULTS_DIR / f"billing-modes-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.md"
    path.write_text(report + "\n")
    print(report)
    run.log(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
