"""Every page runs under the Content-Security-Policy with no violation: the theme script,
htmx, the live websocket, the charts, the playground, admin and the API docs all keep working.

A violation is caught twice: the page's ``securitypolicyviolation`` events, and Chromium's
console errors (which also report anything else that broke).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from billing.models import Generation
from tests.browser.conftest import EMAIL, PASSWORD, in_thread, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""
DASHBOARD = [
    "/",
    "/activity/",
    "/keys/",
    "/credits/",
    "/models/",
    "/models/mock/echo/",
    "/playground/",
    "/settings/",
]


def _watched(context: Any) -> tuple[Any, list[str]]:
    errors: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return page, errors


def _violations(page: Any) -> list[str]:
    return page.evaluate("window.__csp")


def _visit(page: Any, url: str) -> None:
    response = page.goto(url)
    assert response.status == 200, url
    policy = response.headers["content-security-policy"]
    script_src = policy.split("script-src ")[1].split(";")[0]
    assert script_src.startswith("'self'") and "unsafe" not in script_src, url
    page.wait_for_load_state("networkidle")


def test_no_dashboard_page_violates_the_policy(demo, live_server_url, chromium):
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    context.add_init_script(_RECORD_VIOLATIONS)
    page, errors = _watched(context)
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        _visit(page, f"{live_server_url}{path}")
        assert (_violations(page), errors) == ([], []), path
    login_page = login(context, live_server_url, EMAIL, PASSWORD)
    login_page.close()
    gen_id = in_thread(lambda: Generation.objects.filter(user__email=EMAIL).values_list("id", flat=True)[0])
    for path in [*DASHBOARD, f"/activity/{gen_id}/"]:
        _visit(page, f"{live_server_url}{path}")
        assert (_violations(page), errors) == ([], []), path

    # The scripts that run after load: the theme toggle, an htmx filter, the live websocket,
    # the models search and the playground's settings form.
    page.goto(f"{live_server_url}/")
    page.locator("[data-theme-toggle]").first.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.goto(f"{live_server_url}/activity/")
    page.get_by_label("Status").select_option("error")
    expect(page).to_have_url(f"{live_server_url}/activity/?key=&model=&status=error&app=&user=&from=&to=")
    expect(page.locator("#export-link")).to_have_attribute(
        "href", "/activity/export.csv?key=&model=&status=error&app=&user=&from=&to="
    )
    page.goto(f"{live_server_url}/models/")
    page.get_by_role("searchbox", name="Search").fill("lorem")
    expect(page.locator("[data-testid=models-table] tbody tr")).to_have_count(1)
    page.goto(f"{live_server_url}/playground/")
    page.locator("#pg-settings select").first.press("Enter")
    assert page.url == f"{live_server_url}/playground/"
    assert (_violations(page), errors) == ([], [])
    context.close()


def test_admin_and_the_api_docs_run_under_the_policy(live_server_url, chromium):
    in_thread(lambda: get_user_model().objects.create_superuser("op", "op@example.com", PASSWORD))
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    context.add_init_script(_RECORD_VIOLATIONS)
    page, errors = _watched(context)
    page.goto(f"{live_server_url}/admin/")  # the admin signs in through the site's form
    page.fill("input[name=login]", "op@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{live_server_url}/admin/")
    for path in (
        "/admin/",
        "/admin/catalog/model/",
        "/admin/catalog/model/add/",
        "/admin/billing/ledgerentry/",
    ):
        _visit(page, f"{live_server_url}{path}")
        assert (_violations(page), errors) == ([], []), path
    page.goto(f"{live_server_url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible()
    assert (_violations(page), errors) == ([], []), "/api/docs/"
    page.goto(f"{live_server_url}/api/redoc/")
    expect(page.locator("#redoc-container h1, redoc h1").first).to_be_visible()
    # Redoc's sidebar links to its maker with a logo from their CDN: the policy keeps it out.
    cdn_logo = [v for v in _violations(page) if v.startswith("img-src blocked https://cdn.redoc.ly/")]
    assert [v for v in _violations(page) if v not in cdn_logo] == []
    assert [e for e in errors if "cdn.redoc.ly" not in e] == [], "/api/redoc/"
    context.close()
