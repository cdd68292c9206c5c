import json
import time
from decimal import Decimal

import pytest
import requests

from billing import services
from billing.models import CreditAccount, LedgerEntry, Payment
from billing.tests.stripe_standin import SECRET_KEY, WEBHOOK_SECRET, completed_event, make_app, signed_event
from tests.fakes.server import FakeUpstream

WEBHOOK = "/billing/stripe/webhook/"


@pytest.fixture
def standin():
    with FakeUpstream(make_app=make_app) as fake:
        yield fake


@pytest.fixture
def stripe_on(settings, standin):
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = standin.url
    settings.SITE_URL = "http://testserver"
    return standin


@pytest.fixture
def buyer(client, account):
    client.force_login(account.user)
    return client


def _start(buyer, amount="20.00"):
    return buyer.post("/credits/buy/", {"amount": amount})


def _paid_session(stripe_on, buyer):
    response = _start(buyer)
    session_id = response["Location"].rsplit("/", 1)[1]
    session = dict(stripe_on.sessions[session_id], payment_status="paid", status="complete")
    return session


def _deliver(client, event, **sign):
    payload, header = signed_event(event, **sign)
    return client.post(WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def _balance(account):
    return CreditAccount.objects.get(pk=account.pk).balance_nanos


def test_buy_form_is_shown_only_when_stripe_is_configured(buyer, settings):
    settings.STRIPE_SECRET_KEY = ""
    assert b"Buy credits</button>" not in buyer.get("/credits/").content
    assert buyer.post("/credits/buy/", {"amount": "20"}).status_code == 404
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    assert b"Buy credits</button>" in buyer.get("/credits/").content


def test_buying_opens_a_checkout_session_for_the_amount_and_redirects_to_it(stripe_on, buyer, account):
    response = _start(buyer, "12.34")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{stripe_on.url}/pay/cs_test_")
    sent = stripe_on.requests[-1].json
    assert sent["line_items"]["0"]["price_data"] == {
        "currency": "usd",
        "unit_amount": "1234",
        "product_data": {"name": "PromptGrid credits"},
    }
    assert sent["metadata"] == {"account_id": str(account.pk), "amount_nanos": "12340000000"}
    assert sent["success_url"] == "http://testserver/credits/?checkout=success"
    payment = Payment.objects.get()
    assert (payment.amount_cents, payment.amount_nanos, payment.status) == (1234, 12_340_000_000, "pending")
    assert _balance(account) == 0


@pytest.mark.parametrize("amount", ["4.99", "1000.01", "10.001", "-5", "abc"])
def test_amounts_outside_the_bounds_open_no_session(stripe_on, buyer, amount):
    response = _start(buyer, amount)
    assert response["Location"] == "/credits/"
    assert stripe_on.requests == []
    assert not Payment.objects.exists()


def test_a_stripe_outage_is_a_message_not_an_error_page(stripe_on, buyer):
    stripe_on.push("error")
    response = _start(buyer)
    assert response["Location"] == "/credits/"
    assert "could not be opened" in buyer.get("/credits/").content.decode()


def test_a_paid_session_credits_the_account_once(stripe_on, buyer, account):
    session = _paid_session(stripe_on, buyer)
    first = _deliver(buyer, completed_event(session))
    replay = _deliver(buyer, completed_event(session))
    assert (first.status_code, first.content) == (200, b"credited")
    assert (replay.status_code, replay.content) == (200, b"already credited")
    assert _balance(account) == 20_000_000_000
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.kind, entry.idempotency_key) == ("topup", f"stripe:{session['id']}")
    assert Payment.objects.get().status == "paid"


def test_the_same_delivery_replayed_byte_for_byte_credits_once(stripe_on, buyer, account):
    session = _paid_session(stripe_on, buyer)
    payload, header = signed_event(completed_event(session))
    for _ in range(3):
        buyer.post(WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert _balance(account) == 20_000_000_000


def test_a_forged_signature_credits_nothing(stripe_on, buyer, account):
    session = _paid_session(stripe_on, buyer)
    response = _deliver(buyer, completed_event(session), secret="whsec_attacker")
    assert response.status_code == 400
    assert _balance(account) == 0


def test_an_unsigned_delivery_credits_nothing(stripe_on, buyer, account):
    session = _paid_session(stripe_on, buyer)
    response = buyer.post(WEBHOOK, json.dumps(completed_event(session)), content_type="application/json")
    assert response.status_code == 400
    assert _balance(account) == 0


def test_an_altered_payload_credits_nothing(stripe_on, buyer, account):
    session = _paid_session(stripe_on, buyer)
    payload, header = signed_event(completed_event(session))
    altered = payload.replace('"amount_total": 2000', '"amount_total": 200000')
    assert altered != payload
    response = buyer.post(WEBHOOK, altered, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == 400
    assert _balance(account) == 0


def test_an_old_delivery_replayed_later_credits_nothing(stripe_on, buyer, account):
    session = _paid_session(stripe_on, buyer)
    response = _deliver(buyer, completed_event(session), timestamp=int(time.time()) - 3600)
    assert response.status_code == 400
    assert _balance(account) == 0


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"amount_total": 1}, b"mismatch"),
        ({"currency": "eur"}, b"mismatch"),
        ({"metadata": {"account_id": "999999"}}, b"mismatch"),
        ({"payment_status": "unpaid"}, b"not paid"),
        ({"id": "cs_test_unknown"}, b"unknown session"),
    ],
)
def test_a_signed_event_that_does_not_match_the_payment_credits_nothing(
    stripe_on, buyer, account, change, outcome
):
    session = _paid_session(stripe_on, buyer)
    response = _deliver(buyer, completed_event({**session, **change}))
    assert (response.status_code, response.content) == (200, outcome)
    assert _balance(account) == 0
    assert Payment.objects.get().status == "pending"


def test_an_expired_session_marks_the_payment_failed(stripe_on, buyer, account):
    session = _paid_session(stripe_on, buyer)
    _deliver(buyer, completed_event(session, "checkout.session.expired"))
    assert Payment.objects.get().status == "failed"
    assert _balance(account) == 0


def test_webhook_is_not_found_when_stripe_is_off(client, db, settings):
    settings.STRIPE_SECRET_KEY = ""
    assert client.post(WEBHOOK, "{}", content_type="application/json").status_code == 404


def test_the_standin_pay_page_returns_to_the_success_url(stripe_on, buyer):
    location = _start(buyer)["Location"]
    response = requests.get(location, allow_redirects=False, timeout=5)
    assert response.status_code == 303
    assert response.headers["Location"] == "http://testserver/credits/?checkout=success"


def test_checkout_start_refuses_when_not_configured(account, settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(services.CheckoutRefused):
        services.checkout_start(account=account, amount_usd=Decimal("10"), success_url="x", cancel_url="y")


@pytest.mark.parametrize("metadata", [["account_id", "1"], "account_id=1", 7, True])
def test_a_signed_event_whose_metadata_is_not_an_object_is_a_mismatch_not_an_error(
    stripe_on, buyer, account, metadata
):
    session = _paid_session(stripe_on, buyer)
    response = _deliver(buyer, completed_event({**session, "metadata": metadata}))
    assert (response.status_code, response.content) == (200, b"mismatch")
    assert _balance(account) == 0
    assert Payment.objects.get().status == "pending"


@pytest.mark.parametrize(
    "event",
    [
        [],
        "checkout.session.completed",
        {"type": "checkout.session.completed"},
        {"type": "checkout.session.completed", "data": []},
        {"type": "checkout.session.completed", "data": {"object": []}},
        {"type": ["checkout.session.completed"], "data": {"object": {}}},
    ],
)
def test_a_signed_event_of_the_wrong_shape_is_a_400(stripe_on, buyer, account, event):
    response = _deliver(buyer, event)
    assert response.status_code == 400
    assert _balance(account) == 0
