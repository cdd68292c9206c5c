"""The whole journey in a real browser: sign up, create a key, call mock/echo with the openai SDK,
watch the call appear live on Activity while the balance drops on Overview; then the playground."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import ApiKey
from billing.models import Generation
from gateway.dashboard.templatetags.dashboard import balance as balance_text
from promptgrid.money import format_usd
from tests.browser.conftest import in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "walker@example.com"
PASSWORD = "a-long-walk-passphrase-42"


@pytest.fixture
def walk_setup(settings, make_mock_model):
    settings.SIGNUP_CREDITS = Decimal("5")
    make_mock_model(input_price="2", output_price="4")


def test_sign_up_to_live_activity_and_playground(walk_setup, live_server_url, screenshot_dir, chromium):
    base = live_server_url
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    overview = context.new_page()

    # Sign up: lands on an Overview that says what to do first.
    overview.goto(f"{base}/accounts/signup/")
    overview.fill("input[name=email]", EMAIL)
    overview.fill("input[name=password1]", PASSWORD)
    overview.fill("input[name=password2]", PASSWORD)
    overview.locator("form button[type=submit]").last.click()
    overview.wait_for_url(f"{base}/")
    expect(overview.get_by_test_id("empty-overview")).to_be_visible()
    expect(overview.get_by_test_id("balance")).to_have_text("$5.00")
    expect(overview.locator("[data-live-indicator]")).to_have_text("Live")

    # Create a key on the Keys page and read its secret, shown once.
    keys = context.new_page()
    keys.goto(f"{base}/keys/")
    keys.get_by_role("link", name="Create key").click()
    keys.fill("input[name=name]", "walk key")
    keys.get_by_role("button", name="Create key").click()
    secret = keys.locator("#new-key-secret").inner_text().strip()
    assert secret.startswith("pg-v1-")

    # Activity open in another tab, empty for now and listening.
    activity = context.new_page()
    activity.goto(f"{base}/activity/")
    expect(activity.get_by_test_id("empty-activity")).to_be_visible()
    expect(activity.locator("[data-live-indicator]")).to_have_text("Live")

    # The call, through the official SDK, exactly as a user's code would make it.
    from openai import OpenAI

    client = OpenAI(base_url=f"{base}/api/v1", api_key=secret, max_retries=0)
    completion = client.chat.completions.create(
        model="mock/echo", messages=[{"role": "user", "content": "Hello from the walk"}]
    )
    assert completion.choices[0].message.content == "Hello from the walk"
    gen = in_thread(lambda: Generation.objects.get(user__email=EMAIL))
    assert gen.cost_nanos > 0
    cost = format_usd(gen.cost_nanos, 6)
    balance = balance_text(5_000_000_000 - gen.cost_nanos)
    assert balance != "$5.00"  # the drop is visible, not rounded away

    # Without a reload: the row appears on Activity with its cost, the balance drops on Overview.
    row = activity.locator(f'tr[data-row-id="{gen.id}"]')
    expect(row).to_be_visible(timeout=10_000)
    expect(row).to_contain_text("mock/echo")
    expect(row).to_contain_text(cost)
    expect(row).to_contain_text("walk key")
    expect(overview.get_by_test_id("balance")).to_have_text(balance, timeout=10_000)
    expect(overview.get_by_test_id("requests")).to_have_text("1")
    activity.screenshot(path=screenshot_dir / "walk-activity-live.png", full_page=True)
    overview.screenshot(path=screenshot_dir / "walk-overview-live.png", full_page=True)

    # The detail page shows the same numbers.
    row.get_by_role("link", name="mock/echo").click()
    expect(activity.get_by_test_id("detail-cost")).to_have_text(cost)

    # Playground: the answer streams in, chunk by chunk, and reports tokens and cost.
    playground = context.new_page()

    def slow_stream(route):  # the mock model waits between chunks so streaming is visible
        body = json.loads(route.request.post_data or "{}")
        body["mock_delay_ms"] = 120
        route.continue_(post_data=json.dumps(body))

    playground.route("**/api/v1/chat/completions", slow_stream)
    playground.goto(f"{base}/playground/")
    playground.fill("#pg-input", "one two three four five six seven eight nine ten eleven twelve")
    playground.keyboard.press("Enter")
    bubble = playground.locator(".msg.assistant .bubble").last
    expect(bubble).to_have_class(re.compile("streaming"))
    playground.wait_for_function(
        "() => { const b = document.querySelector('.msg.assistant .bubble');"
        " return b && b.classList.contains('streaming') && b.textContent.length > 0; }"
    )
    partial = bubble.inner_text()
    expect(bubble).to_have_text(
        "one two three four five six seven eight nine ten eleven twelve", timeout=15_000
    )
    assert len(partial) < len("one two three four five six seven eight nine ten eleven twelve")
    usage = playground.get_by_test_id("pg-usage")
    expect(usage).to_contain_text("in ·")
    expect(usage).to_contain_text("$")
    playground_gen = in_thread(
        lambda: Generation.objects.select_related("api_key").get(
            user__email=EMAIL, api_key__kind="playground"
        )
    )
    assert playground_gen.streamed
    expect(usage).to_contain_text(f"${Decimal(playground_gen.cost_nanos) / 10**9:.6f}")
    expect(playground.get_by_test_id("pg-balance")).to_have_text(
        balance_text(5_000_000_000 - gen.cost_nanos - playground_gen.cost_nanos), timeout=10_000
    )
    playground.screenshot(path=screenshot_dir / "walk-playground.png", full_page=True)

    # Logging out revokes the playground's key.
    playground.get_by_role("button", name="Log out").click()
    playground.wait_for_url(re.compile(r".*/accounts/login/"))
    revoked_at = in_thread(lambda: ApiKey.objects.get(pk=playground_gen.api_key_id).revoked_at)
    assert revoked_at is not None
    context.close()
