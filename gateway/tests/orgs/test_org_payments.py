"""An organisation's owners top it up by card as for a personal account; admins and members cannot."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.organisations.context import SESSION_KEY
from billing.models import CreditAccount, Payment
from billing.tests.stripe_standin import SECRET_KEY, WEBHOOK_SECRET, completed_event, make_app, signed_event
from gateway.tests.orgs.world import make_org
from tests.fakes.server import FakeUpstream

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_on(settings):
    with FakeUpstream(make_app=make_app) as standin:
        settings.STRIPE_SECRET_KEY = SECRET_KEY
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.STRIPE_API_BASE = standin.url
        settings.SITE_URL = "http://testserver"
        yield standin


def _in_org(user, slug: str) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = slug
    session.save()
    return client


def test_an_owner_pays_by_card_into_the_organisation_account(stripe_on):
    world = make_org(credits_nanos=0)
    owner = _in_org(world["owner"].user, world.organisation.slug)

    started = owner.post("/credits/buy/", {"amount": "20.00"})

    session_id = started["Location"].rsplit("/", 1)[1]
    assert Payment.objects.get(stripe_session_id=session_id).account_id == world.account.pk
    session = dict(stripe_on.sessions[session_id], payment_status="paid", status="complete")
    payload, header = signed_event(completed_event(session))
    Client().post(
        "/billing/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert world.balance() == 20_000_000_000
    personal = CreditAccount.objects.get(user=world["owner"].user)
    assert personal.balance_nanos == 0


def test_an_admin_cannot_start_a_payment_for_the_organisation(stripe_on):
    world = make_org(credits_nanos=0)
    admin = world.add("boss", role="admin")
    client = _in_org(admin.user, world.organisation.slug)

    response = client.post("/credits/buy/", {"amount": "20.00"})

    assert response.status_code == 302 and response["Location"] == "/credits/"
    assert not Payment.objects.exists()
