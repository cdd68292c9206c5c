"""Every page, in light and dark, at desktop and phone width, for a user with a month of history.

Screenshots land in ``artifacts/screenshots/`` (git-ignored). The checks here are what a
screenshot cannot prove: the theme toggle sticks across reloads, nothing overflows
sideways on a phone, every form control has a label, filters work through htmx.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from billing.models import Generation
from tests.browser.conftest import EMAIL, PASSWORD, in_thread, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    ("overview", "/"),
    ("activity", "/activity/"),
    ("keys", "/keys/"),
    ("credits", "/credits/"),
    ("models", "/models/"),
    ("model-detail", "/models/mock/echo/"),
    ("playground", "/playground/"),
    ("settings", "/settings/"),
]


def _no_horizontal_overflow(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def _unlabelled_controls(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map(el => el.name || el.id)"""
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_in_both_themes(demo, live_server_url, screenshot_dir, scheme, chromium):
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, color_scheme=scheme)
    anon = context.new_page()
    for name, path in (("login", "/accounts/login/"), ("signup", "/accounts/signup/")):
        anon.goto(f"{live_server_url}{path}")
        assert _unlabelled_controls(anon) == [], path
        anon.screenshot(path=screenshot_dir / f"{name}-{scheme}.png", full_page=True)
    anon.close()
    page = login(context, live_server_url, EMAIL, PASSWORD)
    logged = Generation.objects.filter(user__email=EMAIL, completion_text__isnull=False)
    gen_id = in_thread(lambda: logged.values_list("id", flat=True)[0])
    for name, path in [*PAGES, ("generation-detail", f"/activity/{gen_id}/")]:
        response = page.goto(f"{live_server_url}{path}")
        assert response.status == 200, path
        assert page.evaluate("document.documentElement.dataset.theme") == scheme
        assert _unlabelled_controls(page) == [], path
        page.screenshot(path=screenshot_dir / f"{name}-{scheme}.png", full_page=True)
    context.close()


def test_phone_width_and_theme_toggle(demo, live_server_url, screenshot_dir, chromium):
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="light", is_mobile=True
    )
    page = login(context, live_server_url, EMAIL, PASSWORD)
    for name, path in [*PAGES[:2], ("models", "/models/"), ("playground", "/playground/")]:
        page.goto(f"{live_server_url}{path}")
        assert _no_horizontal_overflow(page), path
        page.screenshot(path=screenshot_dir / f"{name}-phone.png", full_page=True)

    # The toggle switches theme and the choice survives a reload (no flash: set before paint).
    page.goto(f"{live_server_url}/")
    page.locator("[data-theme-toggle]").first.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.screenshot(path=screenshot_dir / "overview-phone-dark.png", full_page=True)
    context.close()


def test_activity_filters_and_pages_without_reload(demo, live_server_url, chromium):
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    page = login(context, live_server_url, EMAIL, PASSWORD)
    page.goto(f"{live_server_url}/activity/")
    first_row = page.locator("tr[data-row-id]").first.get_attribute("data-row-id")
    page.get_by_label("Status").select_option("error")
    expect(page).to_have_url(f"{live_server_url}/activity/?key=&model=&status=error&app=&user=&from=&to=")
    for badge in page.locator("#activity-rows .badge").all():
        expect(badge).to_have_text("Error")
    expect(page.locator("#export-link")).to_have_attribute(
        "href", "/activity/export.csv?key=&model=&status=error&app=&user=&from=&to="
    )
    page.get_by_label("Status").select_option("")
    page.get_by_role("link", name="Older ›").click()
    expect(page.locator(f'tr[data-row-id="{first_row}"]')).to_have_count(0)
    page.get_by_role("link", name="« Latest").click()
    expect(page.locator(f'tr[data-row-id="{first_row}"]')).to_have_count(1)

    # Models search narrows as you type.
    page.goto(f"{live_server_url}/models/")
    page.get_by_role("searchbox", name="Search").fill("lorem")
    expect(page.locator("[data-testid=models-table] tbody tr")).to_have_count(1)
    context.close()


def test_activity_filters_by_app_without_reload(demo, live_server_url, chromium):
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    page = login(context, live_server_url, EMAIL, PASSWORD)
    page.goto(f"{live_server_url}/activity/")
    page.get_by_label("App").fill("Support bot")
    page.get_by_label("App").press("Enter")
    expect(page).to_have_url(
        f"{live_server_url}/activity/?key=&model=&status=&app=Support%20bot&user=&from=&to="
    )
    rows = page.locator("#activity-rows tr")
    expect(rows.first).to_be_visible()
    for app in page.locator("#activity-rows .cell-app").all():
        expect(app).to_have_text("· Support bot")
    assert page.locator("#activity-rows .cell-app").count() == rows.count()
    context.close()
