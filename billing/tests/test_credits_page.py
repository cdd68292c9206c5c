import json

import pytest

from accounts.services import api_key_create
from billing import services
from billing.tests.factories import UserFactory, generation_for


@pytest.fixture
def busy(funded):
    """$10 granted, one request settled at $0.250123456, one in flight holding $0.50."""
    gen = generation_for(funded)
    hold = services.hold_place(account_id=funded.pk, amount_nanos=300_000_000, ttl_seconds=60)
    services.hold_settle(hold_id=hold.id, cost_nanos=250_123_456, generation_id=gen.id, memo="mock/echo")
    services.hold_place(account_id=funded.pk, amount_nanos=500_000_000, ttl_seconds=600)
    return funded


def test_credits_page_shows_balance_held_and_available(client, busy):
    client.force_login(busy.user)
    html = client.get("/credits/").content.decode()
    assert '<div class="stat-value mono" data-testid="balance">$9.749876544</div>' in html
    assert 'data-testid="held">$0.50</div>' in html
    assert 'data-testid="available">$9.249876544</div>' in html
    assert "-$0.250123456" in html and "+$10.00<" in html
    assert "Card payments are not set up" in html


def test_balance_after_a_cheap_request_is_not_rounded_back_up_to_the_grant(client, funded):
    # Rounded to cents, $10 less $0.000352 showed as "$10.00": spend seemed to cost nothing,
    # and the page disagreed with the overview's balance.
    gen = generation_for(funded)
    hold = services.hold_place(account_id=funded.pk, amount_nanos=1_000_000, ttl_seconds=60)
    services.hold_settle(hold_id=hold.id, cost_nanos=352_000, generation_id=gen.id, memo="mock/echo")
    client.force_login(funded.user)

    html = client.get("/credits/").content.decode()

    assert 'data-testid="balance">$9.999648</div>' in html
    assert 'data-testid="available">$9.999648</div>' in html


def test_credits_page_requires_login(client, db):
    response = client.get("/credits/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_ledger_history_is_paginated_with_real_links_and_an_htmx_fragment(client, account):
    for i in range(30):
        services.credits_grant(account=account, amount_nanos=1_000_000_000 + i, memo=f"grant {i}")
    client.force_login(account.user)
    first = client.get("/credits/").content.decode()
    assert "grant 29" in first and "grant 4" not in first
    assert 'href="?page=2"' in first and "Page 1 of 2" in first
    fragment = client.get(
        "/credits/?page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="ledger"
    ).content.decode()
    assert fragment.lstrip().startswith('<section id="ledger"')
    assert "grant 0" in fragment and "grant 29" not in fragment
    assert "<html" not in fragment


def test_each_user_sees_only_their_own_ledger(client, busy):
    stranger = UserFactory()
    client.force_login(stranger)
    html = client.get("/credits/").content.decode()
    assert "mock/echo" not in html and "No credits or charges yet." in html


def _bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_credits_api_returns_credits_and_usage_in_usd(client, busy):
    _, secret = api_key_create(user=busy.user, name="k")
    response = client.get("/api/v1/credits", **_bearer(secret))
    assert response.status_code == 200
    assert response.content == b'{"data": {"total_credits": 10, "total_usage": 0.250123456}}'
    assert json.loads(response.content)["data"]["total_usage"] == 0.250123456


def test_credits_api_rejects_missing_and_unknown_keys_like_openai(client, db):
    missing = client.get("/api/v1/credits")
    unknown = client.get("/api/v1/credits", **_bearer("pg-v1-nope"))
    for response in (missing, unknown):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"


def test_credits_api_for_a_new_user_is_zero(client, account):
    _, secret = api_key_create(user=account.user, name="k")
    assert client.get("/api/v1/credits", **_bearer(secret)).json() == {
        "data": {"total_credits": 0, "total_usage": 0}
    }
