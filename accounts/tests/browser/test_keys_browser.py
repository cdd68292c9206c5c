"""In headless Chromium (Debian's): sign up, create a key, copy it, use it, revoke it.

Screenshots of each step go to ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os

import pytest

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, requires_chromium

SHOTS = SCREENSHOTS

pytestmark = [pytest.mark.browser, requires_chromium]


@pytest.fixture
def browser(live_server):
    # Playwright's sync API runs its own event loop; Django must allow sync ORM calls beside it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
            # ORM calls made while Playwright's loop runs get a connection of their own;
            # close it in this context, or PostgreSQL cannot drop the test database.
            from django.db import connections

            connections.close_all()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _context(browser, live_server, **options):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, **options
    )
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def page(browser, live_server):
    context = _context(browser, live_server)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    yield context.new_page()
    context.close()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"accounts-{name}.png"), full_page=True)


def test_sign_up_create_copy_use_and_revoke_a_key(page, live_server):
    from playwright.sync_api import expect

    # Sign up.
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", "browser@example.com")
    page.fill("input[name=password1]", "Br0wser-Passw0rd!")
    page.fill("input[name=password2]", "Br0wser-Passw0rd!")
    _shot(page, "01-signup")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/signup/" not in url)

    # The keys page, empty.
    page.goto("/keys/")
    expect(page.locator(".empty-state")).to_be_visible()
    _shot(page, "02-keys-empty")

    # Create a key through the htmx panel.
    page.click("text=Create key")
    expect(page.locator("#key-panel #key-form")).to_be_visible()
    page.fill("#key-panel input[name=name]", "browser key")
    page.fill("#key-panel input[name=limit_usd]", "5")
    page.select_option("#key-panel select[name=limit_reset]", "monthly")
    _shot(page, "03-create-form")
    page.click("#key-panel button[type=submit]")
    secret_el = page.locator("#new-key-secret")
    expect(secret_el).to_be_visible()
    secret = secret_el.inner_text().strip()
    assert secret.startswith("pg-v1-")
    expect(page.locator("#key-created")).to_contain_text("will not be shown again")
    expect(page.locator("#key-table")).to_contain_text("browser key")  # refreshed out of band
    _shot(page, "04-key-created")

    # Copy it. The copy button is wired by static/js/app.js when the dashboard ships it.
    page.click("#key-created .copy-btn")
    if page.locator("script[src$='/js/app.js']").count():
        page.wait_for_function("async (s) => (await navigator.clipboard.readText()) === s", arg=secret)
        copied = page.evaluate("navigator.clipboard.readText()")
    else:
        copied = page.locator("#key-created .copy-btn").get_attribute("data-copy")
    assert copied == secret
    _shot(page, "05-copied")

    # The key works.
    api = page.context.request
    assert api.get("/api/v1/key", headers={"Authorization": f"Bearer {copied}"}).status == 200

    # Reload: the secret is gone for good.
    page.goto("/keys/")
    assert secret not in page.content()
    row = page.locator("#key-table tbody tr").first
    expect(row).to_contain_text("browser key")
    expect(row).to_contain_text("$5.00 / monthly")

    # Revoke, confirming the dialog.
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    row.locator("text=Revoke").click()
    expect(page.locator("#key-table tbody tr").first).to_have_attribute("data-key-status", "revoked")
    assert dialogs and "cannot be undone" in dialogs[0]
    _shot(page, "06-revoked")

    response = api.get("/api/v1/key", headers={"Authorization": f"Bearer {secret}"})
    assert response.status == 401
    assert "revoked" in response.json()["error"]["message"]


def test_keys_work_without_javascript(browser, live_server):
    from playwright.sync_api import expect

    from accounts.tests.factories import UserFactory

    UserFactory(email="nojs@example.com")
    context = _context(browser, live_server, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=login]", "nojs@example.com")
        page.fill("input[name=password]", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)

        page.goto("/keys/")
        page.click("text=Create key")  # a real link to the form page
        page.wait_for_url("**/keys/new/")
        page.fill("input[name=name]", "no-js key")
        page.click("#key-form button[type=submit]")
        secret = page.locator("#new-key-secret").inner_text().strip()
        assert secret.startswith("pg-v1-")
        _shot(page, "07-nojs-created")

        page.goto("/keys/")
        row = page.locator("#key-table tbody tr").first
        row.locator("text=Disable").click()
        expect(page.locator("#key-table tbody tr").first).to_have_attribute("data-key-status", "disabled")
        page.locator("#key-table tbody tr").first.locator("text=Revoke").click()
        page.wait_for_url("**/revoke/")
        expect(page.locator("main")).to_contain_text("cannot be undone")
        _shot(page, "08-nojs-confirm-revoke")
        page.click("main button:has-text('Revoke key')")
        page.wait_for_url("**/keys/")
        expect(page.locator("#key-table tbody tr").first).to_have_attribute("data-key-status", "revoked")
        assert secret not in page.content()

        page.goto("/settings/")
        page.check("input[name=log_prompts]")
        page.fill("input[name=log_retention_days]", "14")
        page.click("#settings-form button:has-text('Save')")
        expect(page.locator("main")).to_contain_text("Settings saved.")
        expect(page.locator("input[name=log_retention_days]")).to_have_value("14")
        _shot(page, "09-settings")
    finally:
        context.close()
