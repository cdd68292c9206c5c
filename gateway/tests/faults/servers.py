"""Real server processes for fault tests: a gateway under uvicorn with production settings,
and a private redis-server that a test may stop (never the shared one)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
LOG_DIR = Path(os.environ.get("TMPDIR", "/tmp"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {seconds} s")


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


# A second process shares the test database only on PostgreSQL (SQLite's is in memory).
requires_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="shares PostgreSQL")


@contextmanager
def gateway(**env_overrides: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """One uvicorn worker on the test database; yields its URL and process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "GATEWAY_DB_", "REDIS_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="promptgrid.settings",
        DATABASE_URL=_database_url(),
        SECRET_KEY="test-secret-key-that-is-long-enough-for-checks-0123456789",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        MIGRATE_ON_START="false",
        **env_overrides,
    )
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "promptgrid.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--lifespan", "off", "--log-level", "warning"]
    log = open(LOG_DIR / f"gateway-{port}.log", "wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_listening(port, process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait(5)
        log.close()


@contextmanager
def private_redis(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    """A redis-server of this test's own, on a free port, with no persistence."""
    port = free_port()
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, process)
        yield port, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)
