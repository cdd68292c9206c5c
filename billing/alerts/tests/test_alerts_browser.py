"""In headless Chromium: set a low-balance threshold, add a webhook and copy its secret
(shown once), then read both changes in the audit log. Screenshots go to artifacts/."""

from __future__ import annotations

import os

import pytest

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]


@pytest.fixture
def page(live_server, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
            from django.db import connections

            connections.close_all()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"alerts-{name}.png"), full_page=True)


def test_set_alerts_add_a_webhook_and_see_it_in_the_audit_log(page):
    from playwright.sync_api import expect

    page.goto("/accounts/signup/")
    page.fill("input[name=email]", "alerts@example.com")
    page.fill("input[name=password1]", "Al3rts-Passw0rd!")
    page.fill("input[name=password2]", "Al3rts-Passw0rd!")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/signup/" not in url)

    page.goto("/settings/")
    page.click("text=Alerts and webhook")
    page.fill("input[name=low_balance_usd]", "5")
    page.click("text=Save")
    expect(page.locator("text=Alert settings saved.")).to_be_visible()
    page.fill("input[name=url]", "http://127.0.0.1:9/hook")
    page.click("text=Add webhook")
    secret = page.locator("[data-testid=webhook-secret] code").first.inner_text()
    assert secret.startswith("whsec_")
    _shot(page, "01-secret-once")
    page.goto("/alerts/")
    assert secret not in page.content()
    _shot(page, "02-alerts")

    page.goto("/audit-log/")
    table = page.locator("[data-testid=audit-table]")
    expect(table).to_contain_text("webhook.create")
    expect(table).to_contain_text("alerts.settings")
    expect(table).to_contain_text("alerts@example.com")
    assert secret not in page.content()
    _shot(page, "03-audit-log")
