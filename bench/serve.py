"""Start the fake upstream and PromptGrid as the benchmark does, print their URL and key, and
keep them up until interrupted (or ``--seconds``): for profiling and manual experiments.

    python -m bench.serve [--workers 1] [--server uvicorn] [--seconds 600] [--pg-env NAME=VALUE]
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from pathlib import Path

from bench.run import Config, Session, fake_service, promptgrid_env, promptgrid_service, setup_promptgrid


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="uvicorn")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--chunk-ms", type=float, default=0.0)
    parser.add_argument("--pg-env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    from bench.run import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL

    work = Path(tempfile.mkdtemp(prefix="promptgrid-serve-"))
    cfg = Config(
        quick=True, server=args.server, workers=args.workers, seconds=1, rounds=1, slow_streams=0,
        slow_chunks=0, slow_chunk_ms=0, sweep=False, profile=False, database_url=DEFAULT_DATABASE_URL,
        redis_url=DEFAULT_REDIS_URL, work=work, command="", no_readme=True,
        pg_env=dict(item.split("=", 1) for item in args.pg_env), skip=frozenset(),
    )  # fmt: skip
    session = Session(cfg)

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        fake = session.start(fake_service(cfg, "fake", chunk_ms=args.chunk_ms))
        upstream = f"http://127.0.0.1:{fake.port}/v1"
        env = promptgrid_env(cfg, upstream)
        key = setup_promptgrid(cfg, upstream, env)
        pg = session.start(promptgrid_service(cfg, upstream, env, server=args.server, workers=args.workers))
        print(f"PromptGrid http://127.0.0.1:{pg.port}/api/v1/chat/completions", flush=True)
        print(f"fake upstream {upstream}", flush=True)
        print(f"key {key}", flush=True)
        print(f"workers {' '.join(str(p) for p in pg.worker_pids())}", flush=True)
        print(f"logs {work}", flush=True)
        time.sleep(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        session.stop_all()


if __name__ == "__main__":
    main()
