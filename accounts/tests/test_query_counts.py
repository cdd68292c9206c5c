"""The keys page and the keys API cost the same number of queries for 1 key or 40."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import make_key


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _keys_with_generations(user, count: int, prefix: str) -> None:
    from billing.models import Generation

    for i in range(count):
        key, _ = make_key(user, name=f"{prefix}{i}", limit_nanos=1_000_000_000, limit_reset="daily")
        Generation.objects.create(
            id=f"gen-{prefix}-{i}",
            user=user,
            api_key=key,
            model_slug="mock/echo",
            status="success",
            cost_nanos=1000,
            created_at=timezone.now(),
        )


def test_keys_page_queries_do_not_grow_with_the_number_of_keys(client_a, user):
    _keys_with_generations(user, 1, "first")
    one = _queries(client_a, "/keys/")
    _keys_with_generations(user, 39, "more")
    assert _queries(client_a, "/keys/") == one


def test_keys_api_queries_do_not_grow_with_the_number_of_keys(client_a, user):
    _keys_with_generations(user, 1, "first")
    one = _queries(client_a, "/api/v1/keys")
    _keys_with_generations(user, 39, "more")
    assert _queries(client_a, "/api/v1/keys") == one
