"""An organisation key's request costs the database what a personal key's does: on
PostgreSQL two statements (the hold, with the member's budget in it, and the settlement)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gateway.tests.conftest import chat
from gateway.tests.orgs.world import make_org

pytestmark = pytest.mark.django_db


def _statements(call_api, secret: str) -> list[str]:
    assert call_api(chat(max_tokens=10), secret).status == 200  # warms the key cache and last_used_at
    with CaptureQueriesContext(connection) as queries:
        assert call_api(chat(max_tokens=10), secret).status == 200
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement hold is PostgreSQL's")
@pytest.mark.skipif(settings.GATEWAY_DB_ASYNC, reason="counts Django's connection's statements")
def test_an_organisation_key_with_a_budget_takes_no_more_statements_than_a_personal_key(
    call_api, make_customer, make_mock_model, settings
):
    # As in production: the key lookup and the catalog come from the process's caches.
    settings.AUTH_CACHE_SECONDS = 60
    settings.CATALOG_CACHE_SECONDS = 60
    make_mock_model(input_price="1", output_price="2")
    personal = make_customer()
    world = make_org()
    member = world.add("dev", limit_nanos=1_000_000_000, allowed_models=["mock/echo"])

    personal_sql = _statements(call_api, personal.secret)
    member_sql = _statements(call_api, member.secret)

    assert len(member_sql) == len(personal_sql) == 2
    assert "billing_hold_place" in member_sql[0] and "billing_hold_settle" in member_sql[1]
    assert member.membership(world.organisation).usage_nanos > 0
