"""Two gateway processes sharing PostgreSQL and Redis hold the limits of one.

Two uvicorn processes on 127.0.0.1 serve the real ASGI app; a bounded burst of
concurrent requests alternates between them. A key's requests-per-minute limit
is counted once across both (the Redis script), an account's balance never pays
for more than it holds (the conditional hold UPDATE in PostgreSQL), and a key
revoked through one process is refused by the other within its auth cache lifetime.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from billing.models import Generation

ROOT = Path(__file__).resolve().parents[3]
AUTH_CACHE_SECONDS = 1

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="two processes need a shared database (PostgreSQL)"
    ),
    pytest.mark.skipif(not settings.REDIS_URL, reason="two processes share rate limits through Redis"),
    pytest.mark.django_db(transaction=True),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway process exited: {process.stderr.read().decode()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("gateway process did not start")


@pytest.fixture
def two_gateways() -> Iterator[list[str]]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "promptgrid.test_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "AUTH_CACHE_SECONDS": str(AUTH_CACHE_SECONDS),
        "CATALOG_CACHE_SECONDS": "1",
        "GATEWAY_DB_SHARED_THREADS": "true",
        "LOG_LEVEL": "WARNING",
    }
    processes, urls = [], []
    try:
        for _ in range(2):
            port = _free_port()
            command = [sys.executable, "-m", "uvicorn", "promptgrid.asgi:application"]
            command += ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]
            command += ["--log-level", "warning"]
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            processes.append(process)
            _wait_until_listening(port, process)
            urls.append(f"http://127.0.0.1:{port}")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            process.stderr.close()


def _burst(
    urls: list[str], secret: str, count: int, body: dict, concurrency: int = 8
) -> list[httpx.Response]:
    """``count`` requests, alternating between the processes, at most ``concurrency`` at once."""

    async def run() -> list[httpx.Response]:
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(i: int) -> httpx.Response:
                async with gate:
                    return await client.post(
                        f"{urls[i % 2]}/api/v1/chat/completions",
                        json=body,
                        headers={"Authorization": f"Bearer {secret}"},
                    )

            return await asyncio.gather(*(one(i) for i in range(count)))

    return asyncio.run(run())


BODY = {"model": "mock/echo", "messages": [{"role": "user", "content": "hello both"}], "mock_delay_ms": 50}


def test_a_keys_rpm_limit_holds_across_both_processes(two_gateways, make_customer, make_mock_model):
    make_mock_model()
    customer = make_customer(rpm_limit=10)

    responses = _burst(two_gateways, customer.secret, 30, BODY)

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 10 and statuses.count(429) == 20
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["x-ratelimit-limit"] == "10"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["retry-after"]) >= 1
    served_by = {r.request.url.port for r in responses if r.status_code == 200}
    assert len(served_by) == 2  # both processes answered some


def test_an_accounts_balance_holds_across_both_processes(two_gateways, make_customer, make_mock_model):
    # Output at $1/M (1,000 nanos a token): each request holds 100,000 nanos for its 100 tokens, so
    # the credits cover four requests in flight at once, and each one answered costs far less.
    make_mock_model(input_price="0", output_price="1")
    credits = 450_000
    customer = make_customer(credits_nanos=credits)

    body = {**BODY, "max_tokens": 100, "mock_delay_ms": 300}
    responses = _burst(two_gateways, customer.secret, 24, body, concurrency=12)

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 402}
    assert 1 <= statuses.count(200) and statuses.count(402) >= 1
    charged = sum(g.cost_nanos for g in Generation.objects.filter(user=customer.user))
    assert customer.held() == 0
    assert customer.balance() == credits - charged >= 0
    from billing.models import LedgerEntry

    assert (
        sum(e.amount_nanos for e in LedgerEntry.objects.filter(account=customer.account))
        == customer.balance()
    )


def test_a_key_revoked_through_one_process_is_refused_by_the_other(
    two_gateways, make_customer, make_mock_model
):
    from accounts.services import api_key_create

    make_mock_model()
    customer = make_customer()
    _manager, manager_secret = api_key_create(user=customer.user, name="manage", kind="management")
    first, second = two_gateways
    chat = {**BODY, "mock_delay_ms": 0}
    with httpx.Client(timeout=10) as client:

        def ask() -> int:
            return client.post(
                f"{second}/api/v1/chat/completions", json=chat, headers=customer.headers
            ).status_code

        assert ask() == 200  # the second process now has the key in its cache
        revoked = client.delete(
            f"{first}/api/v1/keys/{customer.key.pk}", headers={"Authorization": f"Bearer {manager_secret}"}
        )
        assert revoked.status_code in (200, 204), revoked.text
        revoked_at = time.monotonic()
        while ask() == 200 and time.monotonic() - revoked_at < 10:
            time.sleep(0.05)
        delay = time.monotonic() - revoked_at
        assert ask() == 401

    print(f"revocation reached the other process after {delay:.3f} s")
    assert delay < AUTH_CACHE_SECONDS + 1.5
