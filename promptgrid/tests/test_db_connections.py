"""A server process keeps a bounded number of PostgreSQL connections, however many requests arrive.

Under ASGI every sync view runs in a thread made for its request; with persistent connections
each of those threads left its connection open after the request, so a burst of anonymous
requests filled PostgreSQL's slots. One uvicorn process with the production settings (its own
defaults, not the test suite's) takes 200 concurrent mixed requests; afterwards the process
holds no more connections than its two fixed pools allow: the hot path's async pool
(GATEWAY_DB_POOL_SIZE) and Django's pool for sync views (DB_POOL_SIZE), and every request
got its answer (none refused with "too many clients").
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connection

from gateway.tests.routing.test_two_processes import _free_port, _wait_until_listening

ROOT = Path(__file__).resolve().parents[2]
POOL_SIZE = 4  # the async pool (the hot path)
SYNC_POOL_SIZE = 8  # the default DB_POOL_SIZE (sync views)
# Both pools full, and not one connection more.
BOUND = POOL_SIZE + SYNC_POOL_SIZE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="counts PostgreSQL backends"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def gateway_url() -> Iterator[str]:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "GATEWAY_DB_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="promptgrid.settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        SECRET_KEY="test-secret-key-that-is-long-enough-for-checks-0123456789",
        DEBUG="false",
        GATEWAY_DB_POOL_SIZE=str(POOL_SIZE),
        LOG_LEVEL="WARNING",
    )
    env.pop("REDIS_URL", None)
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "promptgrid.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--lifespan", "off", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stderr.close()


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_200_concurrent_requests_leave_a_bounded_number_of_connections(
    gateway_url, make_customer, make_mock_model
):
    from accounts.services import api_key_create

    make_mock_model()
    customer = make_customer()
    _manager, manager_secret = api_key_create(user=customer.user, name="manage", kind="management")
    before = _backends()
    chat = {"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            def one(i: int):
                kind = i % 4
                if kind == 0:
                    return client.get(f"{gateway_url}/readyz")
                if kind == 1:
                    return client.get(f"{gateway_url}/api/v1/models")
                if kind == 2:
                    manage = {"Authorization": f"Bearer {manager_secret}"}
                    return client.get(f"{gateway_url}/api/v1/keys", headers=manage)
                return client.post(
                    f"{gateway_url}/api/v1/chat/completions", json=chat, headers=customer.headers
                )

            return await asyncio.gather(*(one(i) for i in range(200)))

    responses = asyncio.run(burst())

    statuses = {r.status_code for r in responses}
    assert statuses == {200}, [r.text for r in responses if r.status_code != 200][:3]
    time.sleep(1)  # connections closed at the end of a request are gone from pg_stat_activity
    left = _backends() - before
    assert left <= BOUND, f"{left} connections left open by one process (bound {BOUND})"
