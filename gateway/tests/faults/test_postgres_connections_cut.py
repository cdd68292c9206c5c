"""PostgreSQL drops the gateway's connections under load (pg_terminate_backend on every backend
of the test database but the test's own, three times in a second: what a restart does to the
clients, without restarting a server that other databases and tests share). Requests in flight fail cleanly
or complete; none is a 500, none is charged twice or charged without its Generation, and the
gateway serves again within seconds by itself. After the hold sweep audit_ledger is clean."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from billing.models import Generation, Hold, LedgerEntry
from gateway.tests.faults.servers import gateway, requires_postgres

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), requires_postgres]

TTL = 10
CLEAN_STATUSES = {200, 503}  # 503: the database went away mid-request (OpenAI-shaped error)


def _cut_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_cut_database_connections_fail_requests_cleanly_and_the_gateway_recovers(
    make_customer, make_mock_model
):
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    before = customer.balance()
    body = {
        "model": "mock/echo",
        "messages": [{"role": "user", "content": "hello there"}],
        "mock_delay_ms": 300,
    }

    with gateway(HOLD_TTL_SECONDS=str(TTL)) as (url, _worker):
        assert (
            httpx.post(f"{url}/api/v1/chat/completions", json=body, headers=customer.headers).status_code
            == 200
        )

        async def load() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:

                async def one(i: int) -> httpx.Response:
                    await asyncio.sleep(i * 0.03)
                    payload = {**body, "stream": i % 3 == 0}
                    return await client.post(
                        "/api/v1/chat/completions", json=payload, headers=customer.headers
                    )

                return await asyncio.gather(*(one(i) for i in range(40)))

        cuts: list[int] = []

        def cutter() -> None:
            try:
                for _ in range(3):
                    time.sleep(0.35)
                    cuts.append(_cut_connections())
            finally:
                connection.close()  # this thread's own connection

        thread = threading.Thread(target=cutter)
        thread.start()
        responses = asyncio.run(load())
        thread.join()
        connection.close()  # ours survived, but start fresh for the checks below
        assert sum(cuts) > 0, "no gateway connection was open to cut"

        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= CLEAN_STATUSES, {s: n for s, n in statuses.items() if s not in CLEAN_STATUSES}
        for r in responses:
            if r.status_code == 503:
                assert r.json()["error"]["code"] == "database_unavailable" and r.headers["Retry-After"] == "1"

        # Recovers by itself within seconds.
        deadline = time.monotonic() + 10
        while True:
            recovered = httpx.post(f"{url}/api/v1/chat/completions", json=body, headers=customer.headers)
            if recovered.status_code == 200:
                break
            assert time.monotonic() < deadline, recovered.text
            time.sleep(0.2)

    # Every answered non-streamed request has its Generation, charged exactly once.
    answered = [r.json()["id"] for r in responses if r.status_code == 200 and not r.text.startswith("data:")]
    generations = set(Generation.objects.filter(api_key=customer.key).values_list("id", flat=True))
    assert set(answered) <= generations
    usage = Counter(
        LedgerEntry.objects.filter(account=customer.account, kind=LedgerEntry.Kind.USAGE).values_list(
            "generation_id", flat=True
        )
    )
    assert all(count == 1 for count in usage.values()), usage
    assert set(usage) <= generations

    # Holds left by requests that could not settle are swept after their ttl; the ledger is clean.
    latest = Hold.objects.filter(account=customer.account).order_by("-expires_at").first()
    time.sleep(max(0.0, (latest.expires_at - timezone.now()).total_seconds()) + 0.5)
    call_command("release_expired_holds", stdout=StringIO())
    assert customer.held() == 0
    charged = -sum(
        LedgerEntry.objects.filter(account=customer.account, kind=LedgerEntry.Kind.USAGE).values_list(
            "amount_nanos", flat=True
        )
    )
    assert customer.balance() == before - charged
    call_command("audit_ledger", stdout=StringIO())
