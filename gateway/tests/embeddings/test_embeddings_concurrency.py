"""Concurrent embeddings against one balance: the hold admits only what the balance can pay."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.core.management import call_command
from django.db import connection

from billing.models import Generation, Shortfall

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # SQLite's in-memory test database locks whole tables against concurrent writers.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"),
]

INPUT = "x" * 400  # a 400-byte bound: 40,000 nanos held at $0.10 per million; the mock counts 100 tokens


def _burst(url: str, secret: str, n: int) -> list[int]:
    def one(_: int) -> int:
        response = httpx.post(
            f"{url}/api/v1/embeddings",
            json={"model": "mock/embed", "input": INPUT, "mock_delay_ms": 300},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.fixture
def poor(live_server_url, make_customer, make_mock_model):
    make_mock_model(
        slug="mock/embed", upstream_model="embed", input_price="0.1", output_modalities=["embeddings"]
    )
    return make_customer(credits_nanos=3 * 40_000)  # three holds' worth


def test_the_hold_lets_through_only_what_the_balance_covers_all_of_it_paid(poor, live_server_url):
    statuses = _burst(live_server_url, poor.secret, 6)

    assert sorted(statuses) == [200, 200, 200, 402, 402, 402]
    assert poor.balance() == 3 * 40_000 - 3 * 100 * 100 and poor.held() == 0
    assert not Shortfall.objects.exists()
    call_command("audit_ledger")


def test_without_the_input_bound_every_request_runs_and_usage_goes_unpaid(poor, live_server_url, monkeypatch):
    from gateway.surfaces.embeddings.endpoint import EmbeddingsSurface

    # The protection off: a hold that assumes an empty input admits every request.
    monkeypatch.setattr(EmbeddingsSurface, "prompt_bound", lambda self, request, route: 0)

    statuses = _burst(live_server_url, poor.secret, 6)

    assert statuses == [200] * 6
    assert Generation.objects.count() == 6
    assert Shortfall.objects.count() == 6  # each charge stopped at its empty hold
