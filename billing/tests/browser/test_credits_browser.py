"""In headless Chromium (Debian's): a new user signs up, redeems a code and buys credits
through Stripe Checkout (the local stand-in), and sees every credit on the Credits page.

Screenshots of each step go to ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os

import pytest
import requests

from billing.tests.stripe_standin import SECRET_KEY, WEBHOOK_SECRET, completed_event, make_app, signed_event
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, requires_chromium
from tests.fakes.server import FakeUpstream

SHOTS = SCREENSHOTS

pytestmark = [pytest.mark.browser, requires_chromium]


@pytest.fixture
def standin():
    with FakeUpstream(make_app=make_app) as fake:
        yield fake


@pytest.fixture
def stripe_live(settings, live_server, standin):
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = standin.url
    settings.SITE_URL = live_server.url
    return standin


@pytest.fixture
def page(live_server):
    # Playwright's sync API runs its own event loop; Django must allow sync ORM calls beside it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            # ORM calls made while Playwright's loop is running get their own database
            # connection; close it here, in that context, or the test database cannot be dropped.
            from django.db import connections

            connections.close_all()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"billing-{name}.png"), full_page=True)


def test_a_new_user_redeems_a_code_and_buys_credits(page, live_server, stripe_live):
    from playwright.sync_api import expect

    from billing import services
    from billing.models import CreditAccount, Payment
    from billing.tests.factories import UserFactory

    code = services.redeem_codes_create(
        count=1, value_nanos=5_000_000_000, created_by=UserFactory(is_staff=True)
    ).codes[0]

    # Sign up as anyone would.
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", "newcomer@example.com")
    page.fill("input[name=password1]", "Newc0mer-Passw0rd!")
    page.fill("input[name=password2]", "Newc0mer-Passw0rd!")
    page.locator("form:has(input[name=password2]) [type=submit]").click()
    page.wait_for_url(lambda url: "/signup/" not in url)

    # An empty account.
    page.goto("/credits/")
    expect(page.get_by_test_id("balance")).to_have_text("$0.00")
    expect(page.locator("#ledger .empty-state")).to_be_visible()
    _shot(page, "01-credits-empty")

    # Redeem the code (htmx: the balance and history update in place).
    page.fill("#id_code", code.lower())
    page.click("#redeem button[type=submit]")
    expect(page.locator("#redeem .alert-success")).to_contain_text("$5.00 added")
    expect(page.get_by_test_id("balance")).to_have_text("$5.00")
    expect(page.locator("#ledger table")).to_contain_text("Redeem code")
    _shot(page, "02-code-redeemed")

    # The same code again is refused.
    page.fill("#id_code", code)
    page.click("#redeem button[type=submit]")
    expect(page.locator("#redeem .alert-error")).to_contain_text("already been redeemed")
    expect(page.get_by_test_id("balance")).to_have_text("$5.00")

    # Buy $20: off to Checkout (the stand-in), which sends the browser back.
    page.fill("input[name=amount]", "20")
    page.click("text=Buy credits >> nth=-1")
    page.wait_for_url(lambda url: "checkout=success" in url)
    expect(page.locator(".alert-success")).to_contain_text("Thank you")
    _shot(page, "03-back-from-checkout")

    # Stripe then delivers the signed event, twice as it sometimes does.
    payment = Payment.objects.get()
    session = dict(stripe_live.sessions[payment.stripe_session_id])
    assert session["payment_status"] == "paid"
    payload, header = signed_event(completed_event(session))
    for _ in range(2):
        response = requests.post(
            f"{live_server.url}/billing/stripe/webhook/",
            data=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 200

    page.goto("/credits/")
    expect(page.get_by_test_id("balance")).to_have_text("$25.00")
    expect(page.locator("#ledger table tbody tr")).to_have_count(2)
    expect(page.locator("#ledger table")).to_contain_text("Card payment ($20.00)")
    _shot(page, "04-credited")
    assert CreditAccount.objects.get(user__email="newcomer@example.com").balance_nanos == 25_000_000_000
