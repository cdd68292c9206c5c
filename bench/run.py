"""One command, one run, side by side: direct (the fake upstream), the minimal forwarder
(httpx and aiohttp clients) and PromptGrid, on the same machine in the same minutes.

    .venv/bin/python -m bench            # the full run (about 6 minutes)
    .venv/bin/python -m bench --quick    # 1-2 minutes, shorter phases, no sweep

Results are printed, written to bench/results/<UTC time>.md, and (for a full run)
copied into bench/README.md. Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.procs import PYTHON, ROOT, RssSampler, Service, free_port, rss_bytes, tree_cpu_seconds

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"
MB = 1024 * 1024
# Frames worth an inclusive-time line in the profile summary.
PROFILE_PACKAGES = (
    "gateway/", "accounts/", "billing/", "catalog/", "django/", "openai/", "httpx/", "aiohttp/", "asgiref/",
    "psycopg/",
)  # fmt: skip

BODY = {
    "model": "openai/gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Say one short sentence about a fox and a dog."},
    ],
    "max_tokens": 64,
    "temperature": 0,
}
STREAM_BODY = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
# The same conversation on the other API surfaces, against the same OpenAI-protocol fake.
MESSAGES_BODY = {
    "model": "openai/gpt-4o-mini",
    "system": "You are a terse assistant.",
    "messages": [{"role": "user", "content": "Say one short sentence about a fox and a dog."}],
    "max_tokens": 64,
    "temperature": 0,
}
RESPONSES_BODY = {
    "model": "openai/gpt-4o-mini",
    "instructions": "You are a terse assistant.",
    "input": "Say one short sentence about a fox and a dog.",
    "max_output_tokens": 64,
    "temperature": 0,
}


@dataclass(frozen=True)
class Surface:
    """An API surface of PromptGrid: its path, its bodies, and what its answers must contain."""

    path: str
    body: dict[str, Any]
    stream_body: dict[str, Any]
    answered: bytes  # in a plain answer
    finished: bytes  # at the end of a stream


SURFACES = {
    "chat": Surface("/api/v1/chat/completions", BODY, STREAM_BODY, b'"choices"', b"[DONE]"),
    "messages": Surface(
        "/api/v1/messages",
        MESSAGES_BODY,
        {**MESSAGES_BODY, "stream": True},
        b'"type":"message"',
        b"message_stop",
    ),
    "responses": Surface(
        "/api/v1/responses",
        RESPONSES_BODY,
        {**RESPONSES_BODY, "stream": True},
        b'"object":"response"',
        b"response.completed",
    ),
}

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pg_bench_run"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"


@dataclass
class Config:
    quick: bool
    server: str
    workers: int
    seconds: float
    rounds: int
    slow_streams: int
    slow_chunks: int
    slow_chunk_ms: float
    sweep: bool
    profile: bool
    database_url: str
    redis_url: str
    work: Path
    command: str
    no_readme: bool
    pg_env: dict[str, str]
    skip: frozenset[str]

    @property
    def body_file(self) -> Path:
        return self.work / "body.json"

    @property
    def stream_body_file(self) -> Path:
        return self.work / "stream.json"

    def body_file_for(self, surface: str, *, stream: bool = False) -> Path:
        if surface == "chat":
            return self.stream_body_file if stream else self.body_file
        return self.work / f"{surface}-{'stream' if stream else 'body'}.json"


@dataclass
class Target:
    """Something to measure: a URL, the service behind it (None for direct), an API key."""

    name: str
    url: str
    service: Service | None
    key: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""
    surface: str = "chat"  # the API it speaks (SURFACES): chat completions but for PromptGrid's others


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- Servers -----------------------------------------------------------------------------


def server_argv(server: str, app: str, port: int, workers: int) -> list[str]:
    if server == "uvicorn":
        return [
            PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning", "--lifespan", "off", "--backlog", "4096",
        ]  # fmt: skip
    if server == "granian":
        return [
            PYTHON, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--loop", "uvloop", "--log-level", "warning", "--no-access-log",
            "--backlog", "4096", "--backpressure", "2048", app,
        ]  # fmt: skip
    if server == "daphne":
        # Daphne serves from one process; several need a balancer in front, so it runs alone here.
        return [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0", app]
    raise ValueError(f"unknown server {server!r}")


def server_label(server: str, workers: int) -> str:
    if server == "daphne":
        return f"daphne {version('daphne')}, 1 process"
    extra = " (uvloop, httptools)" if server == "uvicorn" else " (uvloop)"
    return f"{server} {version(server)}{extra}, {workers} worker{'s' if workers > 1 else ''}"


def fake_service(cfg: Config, name: str, *, chunks: int = 20, chunk_ms: float = 0.0) -> Service:
    port = free_port()
    argv = [PYTHON, "-m", "bench.fake_upstream", "--port", str(port), "--chunks", str(chunks)]
    argv += ["--chunk-ms", str(chunk_ms)]
    return Service(name=name, argv=argv, port=port, log_path=cfg.work / f"{name}.log")


def forwarder_service(
    cfg: Config,
    upstream: str,
    *,
    server: str,
    workers: int,
    name: str = "forwarder",
    app: str = "bench.forwarder.asgi:application",
    env: dict[str, str] | None = None,
) -> Service:
    port = free_port()
    return Service(
        name=name,
        argv=server_argv(server, app, port, workers),
        port=port,
        env={"DJANGO_SETTINGS_MODULE": "bench.forwarder.settings", **(env or {}), "BENCH_UPSTREAM": upstream},
        log_path=cfg.work / f"{name}.log",
    )


# The forwarder (aiohttp) under three middleware set-ups: what PromptGrid's HTML stack costs
# an API call, and what an API-only handler gets back.
MIDDLEWARE_VARIANTS = (
    ("bare Django (no apps, no middleware)", "bench.forwarder.asgi:application", "bench.forwarder.settings"),
    (
        "PromptGrid's settings and full middleware",
        "bench.forwarder.asgi:application",
        "bench.forwarder.settings_stack",
    ),
    (
        "PromptGrid's settings, the gateway's API handler (no middleware)",
        "bench.forwarder.asgi_lean:application",
        "bench.forwarder.settings_stack",
    ),
)


def promptgrid_env(cfg: Config, upstream: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "promptgrid.settings",
        "DATABASE_URL": cfg.database_url,
        "REDIS_URL": cfg.redis_url,
        "DEBUG": "false",
        "SECRET_KEY": cfg.work.name + "-" + secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OPENAI_BASE_URL": upstream,
        "OPENAI_API_KEY": "sk-bench-dummy",
        **cfg.pg_env,
    }


def promptgrid_service(
    cfg: Config,
    upstream: str,
    env: dict[str, str],
    *,
    server: str,
    workers: int,
    name: str = "promptgrid",
    app: str = "promptgrid.asgi:application",
) -> Service:
    port = free_port()
    return Service(
        name=name,
        argv=server_argv(server, app, port, workers),
        port=port,
        env={**env, "OPENAI_BASE_URL": upstream},
        log_path=cfg.work / f"{name}.log",
    )


def gateway_present() -> bool:
    """The chat completions view exists on this branch (it lands separately)."""
    return (ROOT / "gateway" / "surfaces" / "chat" / "endpoint.py").exists() and "chat/completions" in (
        ROOT / "gateway" / "api_urls.py"
    ).read_text()


def setup_promptgrid(cfg: Config, upstream: str, env: dict[str, str]) -> str:
    log("PromptGrid: recreating the benchmark database, migrating, seeding")
    done = subprocess.run(
        [PYTHON, "-m", "bench.setup_promptgrid", "--upstream", upstream],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    (cfg.work / "setup.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"PromptGrid setup failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


# --- Measurements ------------------------------------------------------------------------


def sanity_check(target: Target) -> str:
    """One plain and one streamed request must succeed before anything is measured."""
    surface = SURFACES[target.surface]
    for body, stream in ((surface.body, False), (surface.stream_body, True)):
        request = urllib.request.Request(
            target.url,
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {target.key}"} if target.key else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
                payload = response.read()
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        if stream and surface.finished not in payload:
            return f"stream without {surface.finished.decode()}: {payload[:300]!r}"
        if not stream and surface.answered not in payload:
            return f"answer without {surface.answered.decode()}: {payload[:300]!r}"
    return ""


def _pids(target: Target, fake: Service) -> list[int]:
    return (target.service or fake).pids()


def _workers(target: Target, fake: Service) -> list[int]:
    return (target.service or fake).worker_pids()


def db_counters(cfg: Config) -> dict[str, int] | None:
    """Transactions and rows written in the benchmark database so far (PostgreSQL's statistics)."""
    try:
        import psycopg
    except ImportError:
        return None
    try:
        with psycopg.connect(cfg.database_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT xact_commit + xact_rollback, tup_inserted, tup_updated FROM pg_stat_database"
                " WHERE datname = current_database()"
            ).fetchone()
    except psycopg.Error:
        return None
    return {"xacts": row[0], "inserted": row[1], "updated": row[2]}


def prepare(cfg: Config, target: Target, fake: Service) -> None:
    """Sanity check, warm-up, idle memory."""
    problem = sanity_check(target)
    if problem:
        target.skipped = problem
        log(f"{target.name}: sanity check failed: {problem}")
        return
    log(f"{target.name}: warm-up")
    warm_up(cfg, target.url, target.key, cfg.body_file_for(target.surface))
    workers = _workers(target, fake)
    target.results.update(
        workers=len(workers),
        rss_idle_mb=max(rss_bytes(p) for p in workers) / MB,
        rss_load_mb=0.0,
        runs={phase: [] for phase in PHASES},
        cpu={phase: [0.0, 0, 0.0] for phase in PHASES},  # server CPU s, requests, fake CPU s
    )


def warm_up(cfg: Config, url: str, key: str, body_file: Path | None = None) -> None:
    """Load until throughput settles (two 2 s rounds within 25 %, at most 5 rounds): every worker
    must have imported its clients and filled its caches before anything is measured."""
    previous = 0.0
    for _ in range(5):
        rps = loadgen.run_wrk(
            url, body_file=body_file or cfg.body_file, key=key, connections=32, seconds=2
        ).rps
        if previous and abs(rps - previous) <= 0.25 * max(rps, previous):
            break
        previous = rps
    time.sleep(0.5)


PHASES = ("c1", "c32", "c128", "ttft", "s32")
PHASE_TITLES = {
    "c1": "concurrency 1",
    "c32": "concurrency 32",
    "c128": "concurrency 128",
    "ttft": "streaming, time to first token at concurrency 1",
    "s32": "streaming at concurrency 32",
}


def run_phase(cfg: Config, target: Target, phase: str, fake: Service) -> None:
    """One round of one phase against one target; CPU, RSS and requests are accumulated."""
    r = target.results
    workers, pids, fake_pids = _workers(target, fake), _pids(target, fake), fake.pids()
    cpu0, fake0 = tree_cpu_seconds(pids), tree_cpu_seconds(fake_pids)
    with RssSampler(workers, interval=0.25) as rss:
        if phase == "ttft":
            body = json.dumps(SURFACES[target.surface].stream_body).encode()
            result: Any = loadgen.time_to_first_token(
                target.url, body=body, key=target.key, seconds=cfg.seconds
            )
            served = len(result.ttft_ms)
        else:
            connections = {"c1": 1, "c32": 32, "c128": 128, "s32": 32}[phase]
            body_file = cfg.body_file_for(target.surface, stream=phase == "s32")
            result = loadgen.run_wrk(
                target.url, body_file=body_file, key=target.key, connections=connections, seconds=cfg.seconds
            )
            served = result.requests
    acc = r["cpu"][phase]
    acc[0] += tree_cpu_seconds(pids) - cpu0
    acc[1] += served
    acc[2] += tree_cpu_seconds(fake_pids) - fake0
    r["runs"][phase].append(result)
    r["rss_load_mb"] = max(r["rss_load_mb"], max(rss.peak.values()) / MB)


def measure_all(cfg: Config, targets: list[Target], fake: Service, db_target: Target | None) -> None:
    """Every phase, round after round, each round visiting every target in turn: the machine's
    noise drifts over minutes, and interleaving spreads it evenly over the targets."""
    live = [t for t in targets if not t.skipped]
    db_delta: dict[str, int] = {}
    for phase in PHASES:
        for round_no in range(cfg.rounds):
            log(f"{PHASE_TITLES[phase]}, round {round_no + 1}/{cfg.rounds}")
            for target in live:
                counting = target is db_target and phase == "c32"
                # Counted around each of its own rounds only: other targets (the other API
                # surfaces) share its database between them.
                db_before = None
                if counting:
                    time.sleep(2.0)  # PostgreSQL publishes a backend's statistics a second after it idles
                    db_before = db_counters(cfg)
                run_phase(cfg, target, phase, fake)
                if db_before is not None:
                    time.sleep(2.0)
                    db_after = db_counters(cfg)
                    if db_after is not None:
                        for k in db_before:
                            db_delta[k] = db_delta.get(k, 0) + db_after[k] - db_before[k]
    if db_target is not None and db_delta and not db_target.skipped:
        n = max(sum(run.requests for run in db_target.results["runs"]["c32"]), 1)
        db_target.results["db"] = {k: v / n for k, v in db_delta.items()}
    for target in live:
        summarize(target)


def summarize(target: Target) -> None:
    r = target.results
    for phase in PHASES:
        runs = r["runs"][phase]
        r[phase] = loadgen.merge_streams(runs) if phase == "ttft" else loadgen.merge_wrk(runs)
    cpu_s, served, fake_s = r["cpu"]["c32"]
    r["cpu_ms"] = cpu_s * 1000 / max(served, 1)
    r["fake_cpu_ms"] = fake_s * 1000 / max(served, 1)
    cpu_s, served, _ = r["cpu"]["s32"]
    r["stream_cpu_ms"] = cpu_s * 1000 / max(served, 1)


def measure_slow_streams(cfg: Config, service: Service, url: str, key: str) -> dict[str, Any]:
    """Open cfg.slow_streams streams at once against one worker; RSS added and errors."""
    body = json.dumps(STREAM_BODY).encode()
    loadgen.concurrent_streams(url, body=body, key=key, count=20, timeout_s=120)  # warm the paths
    time.sleep(0.5)
    worker = service.worker_pids()[0]
    before = rss_bytes(worker)
    with RssSampler([worker], interval=0.1) as sampler:
        stats = loadgen.concurrent_streams(url, body=body, key=key, count=cfg.slow_streams, timeout_s=180)
    time.sleep(0.5)
    return {
        "streams": cfg.slow_streams,
        "rss_before_mb": before / MB,
        "rss_peak_mb": sampler.peak[worker] / MB,
        "added_mb": (sampler.peak[worker] - before) / MB,
        "after_mb": rss_bytes(worker) / MB,
        "errors": stats.errors,
        "error_kinds": stats.error_kinds,
        "max_open": stats.max_open,
        "seconds": stats.seconds,
        "ttft_p50_ms": loadgen.percentile(stats.ttft_ms, 50),
        "ttft_p99_ms": loadgen.percentile(stats.ttft_ms, 99),
    }


def profile_worker(cfg: Config, target: Target) -> str:
    """py-spy samples one worker during a concurrency-32 phase; the top functions by own time."""
    assert target.service is not None
    spy_bin = Path(PYTHON).parent / "py-spy"
    if not spy_bin.exists():
        return "py-spy is not installed (pip install -r requirements-dev.txt)"
    worker = target.service.worker_pids()[0]
    raw = cfg.work / f"profile-{target.name}.txt"
    seconds = max(4, int(cfg.seconds))
    spy = subprocess.Popen(
        [str(spy_bin), "record", "-p", str(worker), "-d", str(seconds), "-r", "250", "-f", "raw",
         "-o", str(raw), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    loadgen.run_wrk(target.url, body_file=cfg.body_file, key=target.key, connections=32, seconds=seconds + 1)
    try:
        spy.wait(30)
    except subprocess.TimeoutExpired:
        spy.kill()
    if not raw.exists():
        return "py-spy produced no profile"
    (RESULTS_DIR / f"profile-{cfg.work.name}.txt").write_text(raw.read_text())
    return summarize_profile(raw.read_text())


def summarize_profile(collapsed: str, *, top: int = 15) -> str:
    """Own-time and inclusive-time shares from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    if not total:
        return "no samples"
    lines = ["| own % | function |", "|---:|---|"]
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"| {100 * count / total:.1f} | `{frame}` |")
    lines += ["", "| inclusive % | function (PromptGrid, Django and client code) |", "|---:|---|"]
    interesting = [(f, c) for f, c in inclusive.items() if any(k in f for k in PROFILE_PACKAGES)]
    for frame, count in sorted(interesting, key=lambda kv: -kv[1])[:top]:
        lines.append(f"| {100 * count / total:.1f} | `{frame}` |")
    return "\n".join(lines)


def measure_server(cfg: Config, service: Service, url: str, key: str) -> dict[str, Any]:
    service.start()
    try:
        service.wait_listening(60)
        probe = Target(name=service.name, url=url, service=service, key=key)
        problem = sanity_check(probe)
        if problem:
            return {"error": problem}
        warm_up(cfg, url, key)
        pids = service.pids()
        cpu0 = tree_cpu_seconds(pids)
        with RssSampler(service.worker_pids(), interval=0.25) as rss:
            res = loadgen.run_wrk(url, body_file=cfg.body_file, key=key, connections=32, seconds=cfg.seconds)
        cpu = (tree_cpu_seconds(pids) - cpu0) * 1000 / max(res.requests, 1)
        c1 = loadgen.run_wrk(url, body_file=cfg.body_file, key=key, connections=1, seconds=cfg.seconds)
        return {"wrk": res, "cpu_ms": cpu, "rss_mb": max(rss.peak.values()) / MB, "c1": c1}
    finally:
        service.stop()


# --- Report ------------------------------------------------------------------------------


def _f(value: Any, fmt: str = "{:.1f}") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value != value:  # NaN
        return "—"
    return fmt.format(value)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b or a != a or b != b:
        return "—"
    return f"{a / b:.2f}×"


def _get(target: Target, path: str) -> Any:
    value: Any = target.results
    for part in path.split("."):
        if value is None:
            return None
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    return value


def _ttft(target: Target, pct: float) -> float | None:
    stats = target.results.get("ttft")
    return loadgen.percentile(stats.ttft_ms, pct) if stats and stats.ttft_ms else None


def render(
    cfg: Config,
    targets: list[Target],
    slow: dict[str, dict],
    sweep: list[dict],
    middleware: list[dict],
    bookkeeping: dict[str, Any],
    profile: str,
    started: datetime,
) -> str:
    direct, pg = targets[0], next(t for t in targets if t.name == "PromptGrid")
    fwd_httpx = next((t for t in targets if t.name == "forwarder (httpx)"), None)
    fwd_aio = next((t for t in targets if t.name == "forwarder (aiohttp)"), None)
    cols = targets
    header = (
        "| | " + " | ".join(t.name for t in cols) + " | PromptGrid ÷ fwd httpx | PromptGrid ÷ fwd aiohttp |"
    )
    sep = "|---|" + "---:|" * (len(cols) + 2)
    rows: list[str] = [header, sep]

    def row(label: str, getter, fmt: str = "{:.1f}", ratio: bool = True) -> None:
        values = [getter(t) if not t.skipped else None for t in cols]
        cells = [_f(v, fmt) for v in values]
        if ratio and fwd_httpx and fwd_aio:
            cells += [_ratio(getter(pg), getter(fwd_httpx)), _ratio(getter(pg), getter(fwd_aio))]
        else:
            cells += ["", ""]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    def added(getter):
        def inner(t: Target) -> float | None:
            a, b = getter(t), getter(direct)
            return None if a is None or b is None else a - b

        return inner

    row("latency p50, concurrency 1 (ms)", lambda t: _get(t, "c1.p50_ms"), "{:.2f}")
    row("latency p99, concurrency 1 (ms)", lambda t: _get(t, "c1.p99_ms"), "{:.2f}")
    row("added latency p50 vs direct (ms)", added(lambda t: _get(t, "c1.p50_ms")), "{:+.2f}", ratio=False)
    row("added latency p99 vs direct (ms)", added(lambda t: _get(t, "c1.p99_ms")), "{:+.2f}", ratio=False)
    row("throughput, concurrency 32 (req/s)", lambda t: _get(t, "c32.rps"), "{:.0f}")
    row("p99, concurrency 32 (ms)", lambda t: _get(t, "c32.p99_ms"), "{:.1f}")
    row("errors, concurrency 32", lambda t: _get(t, "c32.errors"), "{:d}", ratio=False)
    row("throughput, concurrency 128 (req/s)", lambda t: _get(t, "c128.rps"), "{:.0f}")
    row("p99, concurrency 128 (ms)", lambda t: _get(t, "c128.p99_ms"), "{:.1f}")
    row("errors, concurrency 128", lambda t: _get(t, "c128.errors"), "{:d}", ratio=False)
    row("stream: time to first token p50, c=1 (ms)", lambda t: _ttft(t, 50), "{:.2f}")
    row("stream: time to first token p99, c=1 (ms)", lambda t: _ttft(t, 99), "{:.2f}")
    row("stream: added TTFT p50 vs direct (ms)", added(lambda t: _ttft(t, 50)), "{:+.2f}", ratio=False)
    row("stream: streams/s, concurrency 32", lambda t: _get(t, "s32.rps"), "{:.0f}")
    row("stream: p99 whole stream, c=32 (ms)", lambda t: _get(t, "s32.p99_ms"), "{:.1f}")
    row("stream: errors, c=32", lambda t: _get(t, "s32.errors"), "{:d}", ratio=False)
    row("CPU per request, c=32 (ms, server processes)", lambda t: _get(t, "cpu_ms"), "{:.2f}")
    row("CPU per stream, c=32 (ms)", lambda t: _get(t, "stream_cpu_ms"), "{:.2f}")
    row("fake upstream CPU per request (ms)", lambda t: _get(t, "fake_cpu_ms"), "{:.2f}", ratio=False)
    row("RSS per worker, idle (MB)", lambda t: _get(t, "rss_idle_mb"), "{:.0f}")
    row("RSS per worker, under load (MB)", lambda t: _get(t, "rss_load_mb"), "{:.0f}")
    if pg.results.get("db"):
        row("DB transactions per request", lambda t: _get(t, "db.xacts"), "{:.2f}", ratio=False)

        def written(t: Target) -> str | None:
            db = t.results.get("db")
            return None if not db else f"{db['inserted']:.2f} / {db['updated']:.2f}"

        row("DB rows inserted / updated per request", written, "{}", ratio=False)

    out = [
        f"# Benchmark run {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{cfg.command}`  ",
        f"Machine: {machine()}  ",
        f"Server (forwarder and PromptGrid): {server_label(cfg.server, cfg.workers)}; load: wrk "
        f"{wrk_version()} (2 threads; 1 at concurrency 1) and an aiohttp client for time to first token; "
        f"fake upstream: aiohttp + uvloop in its own process, no added latency, 20-event streams. "
        f"Each phase {cfg.seconds:.0f} s × {cfg.rounds} round(s), targets interleaved, after a 2 s warm-up.",
        "",
    ]
    if cfg.pg_env:
        out += ["PromptGrid ran with: " + ", ".join(f"`{k}={v}`" for k, v in cfg.pg_env.items()), ""]
    for t in targets:
        if t.skipped:
            out.append(f"- **{t.name}** not measured: {t.skipped}")
    out += ["", *rows, ""]
    if slow:
        out += [
            f"## {cfg.slow_streams:,} concurrent slow streams in one worker",
            "",
            f"Each stream: {cfg.slow_chunks} events {cfg.slow_chunk_ms:.0f} ms apart from the fake upstream; "
            "all opened at once by one aiohttp client against a single-worker server.",
            "",
            "| | RSS before (MB) | peak (MB) | added (MB) | errors | streams open at once | "
            "TTFT p50 / p99 (ms) | wall (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, res in slow.items():
            if "error" in res:
                out.append(f"| {name} | {res['error']} | | | | | | |")
                continue
            kinds = ", ".join(f"{k}: {v}" for k, v in res["error_kinds"].items())
            out.append(
                f"| {name} | {res['rss_before_mb']:.0f} | {res['rss_peak_mb']:.0f} | {res['added_mb']:.0f} | "
                f"{res['errors']}{f' ({kinds})' if kinds else ''} | {res['max_open']} | "
                f"{_f(res['ttft_p50_ms'], '{:.0f}')} / {_f(res['ttft_p99_ms'], '{:.0f}')} | "
                f"{res['seconds']:.1f} |"
            )
        out.append("")
    if sweep:
        out += [
            f"## Servers and workers ({sweep[0]['app']}, concurrency 32, non-streaming)",
            "",
            "| server | req/s | p99 (ms) | errors | CPU per request (ms) | peak RSS per worker (MB) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for res in sweep:
            if "error" in res:
                out.append(f"| {res['label']} | {res['error']} | | | | |")
                continue
            w = res["wrk"]
            out.append(
                f"| {res['label']} | {w.rps:.0f} | {w.p99_ms:.1f} | {w.errors} | {res['cpu_ms']:.2f} | "
                f"{res['rss_mb']:.0f} |"
            )
        out.append("")
    if middleware:
        out += [
            "## Middleware on the hot path (forwarder with aiohttp, uvicorn, 2 workers)",
            "",
            "| set-up | req/s at c=32 | p99 (ms) | CPU per request (ms) | latency p50 at c=1 (ms) |",
            "|---|---:|---:|---:|---:|",
        ]
        for res in middleware:
            if "error" in res:
                out.append(f"| {res['label']} | {res['error']} | | | |")
                continue
            w = res["wrk"]
            out.append(
                f"| {res['label']} | {w.rps:.0f} | {w.p99_ms:.1f} | {res['cpu_ms']:.2f} | "
                f"{res['c1'].p50_ms:.2f} |"
            )
        out.append("")
    if bookkeeping:
        out += render_bookkeeping(bookkeeping)
    out += targets_section(targets, slow, bookkeeping)
    if profile:
        out += ["## Profile of one PromptGrid worker at concurrency 32 (py-spy)", "", profile, ""]
    return "\n".join(out)


def render_bookkeeping(res: dict[str, Any]) -> list[str]:
    if "error" in res:
        return ["## Holds and settlement alone (bench.micro)", "", f"Not measured: {res['error']}", ""]
    orm = res["orm_sync"]
    kinds = ", ".join(f"{k} {v:.0f}" for k, v in orm["kinds"].items())
    rows = [
        "## Holds and settlement alone (`python -m bench.micro`)",
        "",
        "One thread, no HTTP: `gateway.pipeline.holds.reserve` then "
        "`gateway.pipeline.settlement.settle`, as a request "
        f"does them. Statements per request on the gateway's path: {orm['statements']:.0f} ({kinds}), plus "
        "BEGIN and COMMIT of the two transactions. CPU is this process's only.",
        "",
        "| path | round trips per request | CPU per request (ms) | wall per request (ms) |",
        "|---|---:|---:|---:|",
        f"| gateway path (today), synchronous_commit on | {orm['round_trips']:.0f} | {orm['cpu_ms']:.2f} | "
        f"{orm['wall_ms']:.1f} |",
        f"| gateway path (today), synchronous_commit off | {res['orm_async']['round_trips']:.0f} | "
        f"{res['orm_async']['cpu_ms']:.2f} | {res['orm_async']['wall_ms']:.1f} |",
        f"| prototype: two PL/pgSQL calls, synchronous_commit on | 2 | {res['prototype']['cpu_ms']:.2f} | "
        f"{res['prototype']['wall_ms']:.1f} |",
    ]
    for name, label in (
        ("loop_threads", "API path from an event loop: thread hops (`db_call`)"),
        ("loop_pool", "API path from an event loop: async pool (`GATEWAY_DB_ASYNC`)"),
    ):
        if name in res:
            rows.append(f"| {label} | 2 | {res[name]['cpu_ms']:.2f} | {res[name]['wall_ms']:.1f} |")
    rows.append("")
    if "one_account" in res:
        rows += [
            "The same ORM path from 8 threads at once: "
            f"**{res['one_account']['rps']:.0f} requests/s when they share one account**, "
            f"{res['eight_accounts']['rps']:.0f} requests/s with an account each (the account's row lock "
            "is held from the hold's UPDATE, and the settlement's SELECT … FOR UPDATE, to each COMMIT).",
            "",
        ]
    return rows


def measure_bookkeeping(cfg: Config, pg_env: dict[str, str]) -> dict[str, Any]:
    log("holds and settlement alone (bench.micro)")
    done = subprocess.run(
        [PYTHON, "-m", "bench.micro", "--requests", "50" if cfg.quick else "150", "--json"],
        cwd=ROOT,
        env={
            **os.environ,
            **pg_env,
            "BENCH_DATABASE_URL": cfg.database_url,
            "BENCH_REDIS_URL": cfg.redis_url,
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def targets_section(
    targets: list[Target], slow: dict[str, dict], bookkeeping: dict[str, Any] | None = None
) -> list[str]:
    direct, pg = targets[0], next(t for t in targets if t.name == "PromptGrid")
    fwd = next((t for t in targets if t.name == "forwarder (httpx)"), None)
    if pg.skipped or not pg.results:
        return ["## Targets", "", "PromptGrid was not measured in this run; see above.", ""]

    def verdict(ok: bool | None) -> str:
        return "—" if ok is None else ("met" if ok else "**missed**")

    lines = ["## Targets", "", "| target | measured | |", "|---|---|---|"]
    rps, fwd_rps = _get(pg, "c32.rps"), _get(fwd, "c32.rps") if fwd else None
    if rps and fwd_rps:
        lines.append(
            f"| throughput at c=32 ≥ forwarder (httpx) | {rps:.0f} vs {fwd_rps:.0f} req/s "
            f"({rps / fwd_rps:.2f}×) | {verdict(rps >= fwd_rps)} |"
        )
        lines.append(
            f"| ≥ 5× LiteLLM (110–180 req/s with 2 workers, so ≥ 900) | {rps:.0f} req/s | "
            f"{verdict(rps >= 900)} |"
        )
    cpu = _get(pg, "cpu_ms")
    if cpu is not None:
        lines.append(f"| CPU per non-streaming request ≤ 1.5 ms | {cpu:.2f} ms | {verdict(cpu <= 1.5)} |")
    added = (_get(pg, "c1.p50_ms") or 0) - (_get(direct, "c1.p50_ms") or 0)
    lines.append(
        f"| added latency p50 at c=1 ≤ 2 ms (non-streaming) | {added:+.2f} ms | {verdict(added <= 2)} |"
    )
    t_pg, t_direct = _ttft(pg, 50), _ttft(direct, 50)
    if t_pg is not None and t_direct is not None:
        lines.append(
            f"| added time to first token p50 at c=1 ≤ 2 ms (streaming) | {t_pg - t_direct:+.2f} ms | "
            f"{verdict(t_pg - t_direct <= 2)} |"
        )
    for other in targets:
        if other.surface == "chat" or other.skipped or not other.results:
            continue
        for key, what in (("cpu_ms", "request"), ("stream_cpu_ms", "stream")):
            mine, chat = _get(other, key), _get(pg, key)
            if mine is not None and chat:
                ratio = mine / chat
                lines.append(
                    f"| CPU per {what} on {SURFACES[other.surface].path} within 15 % of chat completions' "
                    f"| {mine:.2f} vs {chat:.2f} ms ({ratio:.2f}×) | {verdict(ratio <= 1.15)} |"
                )
    rss = _get(pg, "rss_load_mb")
    if rss is not None:
        lines.append(f"| RSS ≤ 150 MB per worker | {rss:.0f} MB under load | {verdict(rss <= 150)} |")
    res = slow.get("PromptGrid")
    if res and "added_mb" in res:
        ok = res["added_mb"] <= 200 and res["errors"] == 0
        lines.append(
            f"| {res['streams']:,} slow streams in one process add ≤ 200 MB, no errors | "
            f"+{res['added_mb']:.0f} MB, {res['errors']} errors | {verdict(ok)} |"
        )
    if bookkeeping and "orm_sync" in bookkeeping:
        trips = bookkeeping["orm_sync"]["round_trips"]
        lines.append(
            f"| ≤ 2 database round trips per request (hold, settle) | {trips:.0f} "
            f"(bench.micro; the PL/pgSQL prototype does 2) | {verdict(trips <= 2)} |"
        )
    lines.append("")
    return lines


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    system = f"Linux {platform.release()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({model}){mem}, {system}"


def wrk_version() -> str:
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout + done.stderr).split()
    return first[1] if len(first) > 1 else "?"


def update_readme(report: str) -> None:
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = README.read_text() if README.exists() else f"{start}\n{end}\n"
    if start not in text or end not in text:
        text += f"\n{start}\n{end}\n"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    body = report.replace("# Benchmark run", "### Latest run:", 1).replace("\n## ", "\n#### ")
    README.write_text(f"{head}{start}\n{body}\n{end}{tail}")


# --- Main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s phases, fewer slow streams, no sweep")
    parser.add_argument("--server", choices=("uvicorn", "granian", "daphne"), default="uvicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, help="length of each measured phase")
    parser.add_argument("--rounds", type=int, help="rounds of each phase (default 2; 1 with --quick)")
    parser.add_argument("--slow-streams", type=int, help="concurrent slow streams (default 1000)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the server and worker comparison")
    parser.add_argument("--profile", action="store_true", help="profile a PromptGrid worker with py-spy")
    parser.add_argument("--no-readme", action="store_true", help="do not copy the table into bench/README.md")
    parser.add_argument(
        "--pg-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for PromptGrid's processes (repeatable), to measure a setting",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to leave out: httpx, aiohttp, promptgrid, messages, responses, slow, "
        "sweep, middleware",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    work = Path(tempfile.mkdtemp(prefix="promptgrid-bench-"))
    command = "python -m bench" + (" " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else "")
    return Config(
        quick=quick,
        server=args.server,
        workers=args.workers,
        seconds=args.seconds or (2.0 if quick else 4.0),
        rounds=args.rounds or (1 if quick else 2),
        slow_streams=args.slow_streams or 1000,
        slow_chunks=30 if quick else 40,
        slow_chunk_ms=200.0 if quick else 250.0,
        sweep=not (quick or args.no_sweep),
        profile=args.profile,
        database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        work=work,
        command=command,
        no_readme=args.no_readme or quick or bool(args.pg_env) or bool(args.skip),
        pg_env=dict(item.split("=", 1) for item in args.pg_env),
        skip=frozenset(part.strip() for part in args.skip.split(",") if part.strip()),
    )


class Session:
    """The services of one run: started here, all stopped at the end whatever happens."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.services: list[Service] = []

    def start(self, service: Service) -> Service:
        self.services.append(service)
        service.start()
        service.wait_listening(60)
        return service

    def stop_all(self) -> None:
        for service in reversed(self.services):
            service.stop()


def run_slow_streams(session: Session, pg_target: Target, pg_env: dict[str, str]) -> dict[str, dict]:
    cfg = session.cfg
    slow: dict[str, dict] = {}
    log(f"slow streams: {cfg.slow_streams} at once against one worker")
    slow_fake = session.start(
        fake_service(cfg, "slow-fake", chunks=cfg.slow_chunks, chunk_ms=cfg.slow_chunk_ms)
    )
    slow_upstream = f"http://127.0.0.1:{slow_fake.port}/v1"
    one_fwd = session.start(
        forwarder_service(cfg, slow_upstream, server=cfg.server, workers=1, name="slow-forwarder")
    )
    slow["forwarder (aiohttp)"] = measure_slow_streams(
        cfg, one_fwd, f"http://127.0.0.1:{one_fwd.port}/aiohttp/v1/chat/completions", ""
    )
    one_fwd.stop()
    if not pg_target.skipped:
        one_pg = session.start(
            promptgrid_service(
                cfg, slow_upstream, pg_env, server=cfg.server, workers=1, name="slow-promptgrid"
            )
        )
        try:
            slow["PromptGrid"] = measure_slow_streams(
                cfg, one_pg, f"http://127.0.0.1:{one_pg.port}/api/v1/chat/completions", pg_target.key
            )
        except Exception as exc:
            slow["PromptGrid"] = {"error": f"{type(exc).__name__}: {exc}"}
        one_pg.stop()
    slow_fake.stop()
    return slow


SWEEP = (("uvicorn", 1), ("uvicorn", 2), ("uvicorn", 3), ("granian", 2), ("daphne", 1))


def run_sweep(session: Session, upstream: str, pg_target: Target, pg_env: dict[str, str]) -> list[dict]:
    """PromptGrid (or the forwarder, without the gateway) under each server and worker count."""
    cfg = session.cfg
    if pg_target.skipped:
        app, path, key = "forwarder (aiohttp)", "/aiohttp/v1/chat/completions", ""
    else:
        app, path, key = "PromptGrid", "/api/v1/chat/completions", pg_target.key
    results = []
    for server, workers in SWEEP:
        label = server_label(server, workers)
        log(f"sweep: {app} on {label}")
        name = f"sweep-{server}-{workers}"
        if app == "PromptGrid":
            svc = promptgrid_service(cfg, upstream, pg_env, server=server, workers=workers, name=name)
        else:
            svc = forwarder_service(cfg, upstream, server=server, workers=workers, name=name)
        session.services.append(svc)
        try:
            res = measure_server(cfg, svc, f"http://127.0.0.1:{svc.port}{path}", key)
        except Exception as exc:
            res = {"error": f"{type(exc).__name__}: {exc}"}
        results.append({"app": app, "label": label, **res})
    return results


def run_middleware(session: Session, upstream: str, pg_env: dict[str, str]) -> list[dict]:
    cfg = session.cfg
    stack_env = pg_env or promptgrid_env(cfg, upstream)
    results = []
    for label, app, settings_module in MIDDLEWARE_VARIANTS:
        log(f"middleware: {label}")
        svc = forwarder_service(
            cfg,
            upstream,
            server="uvicorn",
            workers=2,
            name=f"mw-{len(results)}",
            app=app,
            env={**stack_env, "DJANGO_SETTINGS_MODULE": settings_module},
        )
        session.services.append(svc)
        try:
            res = measure_server(cfg, svc, f"http://127.0.0.1:{svc.port}/aiohttp/v1/chat/completions", "")
        except Exception as exc:
            res = {"error": f"{type(exc).__name__}: {exc}"}
        results.append({"label": label, **res})
    return results


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    started = datetime.now(UTC)
    RESULTS_DIR.mkdir(exist_ok=True)
    cfg.body_file.write_text(json.dumps(BODY))
    cfg.stream_body_file.write_text(json.dumps(STREAM_BODY))
    for name, surface in SURFACES.items():
        cfg.body_file_for(name).write_text(json.dumps(surface.body))
        cfg.body_file_for(name, stream=True).write_text(json.dumps(surface.stream_body))
    log(f"working files in {cfg.work}")
    session = Session(cfg)
    slow: dict[str, dict] = {}
    sweep: list[dict] = []
    middleware: list[dict] = []
    bookkeeping: dict[str, Any] = {}
    profile = ""
    try:
        fake = session.start(fake_service(cfg, "fake"))
        upstream = f"http://127.0.0.1:{fake.port}/v1"
        fwd = session.start(forwarder_service(cfg, upstream, server=cfg.server, workers=cfg.workers))
        targets = [
            Target("direct", f"{upstream}/chat/completions", None),
            Target("forwarder (httpx)", f"http://127.0.0.1:{fwd.port}/httpx/v1/chat/completions", fwd),
            Target("forwarder (aiohttp)", f"http://127.0.0.1:{fwd.port}/aiohttp/v1/chat/completions", fwd),
        ]
        for target in targets[1:]:
            if target.name.split("(")[-1].rstrip(")") in cfg.skip:
                target.skipped = "left out (--skip)"
        pg_target = Target("PromptGrid", "", None)
        targets.append(pg_target)
        pg_env: dict[str, str] = {}
        if "promptgrid" in cfg.skip:
            pg_target.skipped = "left out (--skip)"
        elif not gateway_present():
            pg_target.skipped = "the gateway's chat completions endpoint is not on this branch yet"
        else:
            pg_env = promptgrid_env(cfg, upstream)
            pg_target.key = setup_promptgrid(cfg, upstream, pg_env)
            pg = session.start(
                promptgrid_service(cfg, upstream, pg_env, server=cfg.server, workers=cfg.workers)
            )
            pg_target.url = f"http://127.0.0.1:{pg.port}/api/v1/chat/completions"
            pg_target.service = pg
            # The other API surfaces, on the same processes (the table's last columns).
            for name in ("messages", "responses"):
                if name in cfg.skip:
                    continue
                url = f"http://127.0.0.1:{pg.port}{SURFACES[name].path}"
                targets.append(Target(f"PromptGrid {SURFACES[name].path.rsplit('/', 1)[-1]}", url, pg,
                                      pg_target.key, surface=name))  # fmt: skip
        for target in targets:
            if not target.skipped:
                prepare(cfg, target, fake)
        measure_all(cfg, targets, fake, None if pg_target.skipped else pg_target)
        if not pg_target.skipped:
            bookkeeping = measure_bookkeeping(cfg, pg_env)
        if cfg.profile and not pg_target.skipped:
            log("PromptGrid: profiling one worker")
            profile = profile_worker(cfg, pg_target)
        fwd.stop()
        if pg_target.service:
            pg_target.service.stop()
        if "slow" not in cfg.skip:
            slow = run_slow_streams(session, pg_target, pg_env)
        if cfg.sweep and "sweep" not in cfg.skip:
            sweep = run_sweep(session, upstream, pg_target, pg_env)
        if cfg.sweep and "middleware" not in cfg.skip:
            middleware = run_middleware(session, upstream, pg_env)
    finally:
        session.stop_all()

    report = render(cfg, targets, slow, sweep, middleware, bookkeeping, profile, started)
    path = RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.md"
    path.write_text(report + "\n")
    print(report)
    log(f"written to {path.relative_to(ROOT)}")
    if not cfg.no_readme:
        update_readme(report)
        log("copied into bench/README.md")
