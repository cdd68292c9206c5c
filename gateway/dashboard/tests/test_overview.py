"""The Overview page: balance, spend, volume, speed, charts, recent activity, empty state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.services import account_for_user, credits_grant
from tests.factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(client):
    user = UserFactory()
    client.force_login(user)
    return user


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_new_user_sees_how_to_start(client, user):
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="empty-overview"' in body
    assert "Create an API key" in body
    assert "/api/v1/chat/completions" in body and "mock/echo" in body


def test_balance_and_spend_windows_add_up(client, user):
    account = account_for_user(user=user)
    credits_grant(account=account, amount_nanos=12_500_000_000, idempotency_key="t")
    now = timezone.now()
    GenerationFactory(user=user, cost_nanos=1_000_000, created_at=now - timedelta(minutes=5))
    GenerationFactory(user=user, cost_nanos=2_000_000, created_at=now - timedelta(days=3))
    GenerationFactory(user=user, cost_nanos=4_000_000, created_at=now - timedelta(days=20))
    GenerationFactory(user=user, cost_nanos=8_000_000, created_at=now - timedelta(days=45))  # outside

    response = client.get("/")
    ov = response.context["ov"]
    # "today" is the UTC day; the 5-minute-old row may fall on yesterday just after midnight.
    expected_today = 1_000_000 if (now - timedelta(minutes=5)).date() == now.date() else 0
    assert ov.spend_today_nanos == expected_today
    assert ov.spend_7d_nanos == 3_000_000
    assert ov.spend_30d_nanos == 7_000_000
    assert ov.requests_30d == 3
    assert ov.tokens_30d == 45
    assert ov.avg_latency_ms == 100 and ov.avg_ttft_ms == 20
    body = response.content.decode()
    assert "$12.50" in body  # balance
    assert "$0.007000" in body  # 30-day spend


def test_charts_are_accessible_svg_with_a_table(client, user):
    GenerationFactory(user=user, cost_nanos=5_000_000)
    body = client.get("/").content.decode()
    assert body.count('<svg class="chart"') == 2
    assert '<title id="spend-chart-title">' in body
    assert "Show as table" in body
    assert "mock/echo" in body  # by-model breakdown and recent row


def test_only_the_owners_figures_are_shown(client, user):
    other = UserFactory()
    GenerationFactory(user=other, cost_nanos=9_000_000_000, model_slug="secret/model")
    response = client.get("/")
    assert response.context["ov"].requests_30d == 0
    assert "secret/model" not in response.content.decode()


def test_htmx_refresh_renders_only_the_live_region(client, user):
    GenerationFactory(user=user)
    response = client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="overview-live")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="overview-live"')
    assert "<html" not in body


def test_overview_query_count_does_not_grow_with_rows(client, user, django_assert_max_num_queries):
    for i in range(30):
        GenerationFactory(
            user=user, model_slug=f"vendor/model-{i % 9}", created_at=timezone.now() - timedelta(days=i)
        )
    with django_assert_max_num_queries(8):
        response = client.get("/")
    assert response.status_code == 200
    assert len(response.context["ov"].models) == 7  # six named models and "3 other models"


def test_past_days_are_read_once_and_today_stays_live(django_assert_num_queries):
    from datetime import UTC, datetime

    from gateway.dashboard.selectors import overview_for_user, overview_forget

    user = UserFactory()
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    GenerationFactory(user=user, cost_nanos=5, created_at=noon - timedelta(days=3))
    GenerationFactory(user=user, cost_nanos=7, created_at=noon - timedelta(hours=1))
    with django_assert_num_queries(2):  # past days, then today
        assert overview_for_user(user_id=user.pk, now=noon).spend_30d_nanos == 12
    GenerationFactory(user=user, cost_nanos=100, created_at=noon - timedelta(minutes=5))
    with django_assert_num_queries(1):  # past days come from the cache
        ov = overview_for_user(user_id=user.pk, now=noon)
    assert ov.spend_30d_nanos == 112 and ov.spend_today_nanos == 107
    # History written into a closed day shows once the cache is told.
    GenerationFactory(user=user, cost_nanos=1_000, created_at=noon - timedelta(days=2))
    assert overview_for_user(user_id=user.pk, now=noon).spend_30d_nanos == 112
    overview_forget(user_id=user.pk)
    assert overview_for_user(user_id=user.pk, now=noon).spend_30d_nanos == 1_112


def test_just_after_midnight_past_days_are_not_cached(django_assert_num_queries):
    from datetime import UTC, datetime

    from gateway.dashboard.selectors import overview_for_user

    user = UserFactory()
    just_after = datetime.now(UTC).replace(hour=0, minute=5, second=0, microsecond=0)
    overview_for_user(user_id=user.pk, now=just_after)
    # A request that started before midnight and settles now still lands in yesterday.
    GenerationFactory(user=user, cost_nanos=9, created_at=just_after - timedelta(minutes=7))
    with django_assert_num_queries(2):
        assert overview_for_user(user_id=user.pk, now=just_after).spend_30d_nanos == 9
