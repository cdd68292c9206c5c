"""Layout on long pages and at phone width, checked on the rendered pixels and boxes.

Screenshots land in ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.browser.conftest import EMAIL, PASSWORD, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

_PIXELS = """async ([png, points]) => {
  const img = new Image();
  img.src = "data:image/png;base64," + png;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const at = (v, size) => (v < 0 ? size + v : v);
  return points.map(([x, y]) =>
    Array.from(ctx.getImageData(at(x, img.width), at(y, img.height), 1, 1).data.slice(0, 3)));
}"""


def _pixels(context: Any, png: bytes, points: list[tuple[int, int]]) -> list[list[int]]:
    """RGB at each point of a PNG (negative coordinates count from the right or bottom)."""
    blank = context.new_page()
    try:
        return blank.evaluate(_PIXELS, [base64.b64encode(png).decode(), points])
    finally:
        blank.close()


def _css_rgb(page: Any, selector: str) -> list[int]:
    rgb = page.evaluate(f"getComputedStyle(document.querySelector('{selector}')).backgroundColor")
    return [int(part) for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_sidebar_background_reaches_the_bottom_of_a_long_page(
    demo, live_server_url, screenshot_dir, chromium, scheme
):
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, color_scheme=scheme)
    page = login(context, live_server_url, EMAIL, PASSWORD)
    for name, path in (("overview", "/"), ("activity", "/activity/")):
        page.goto(f"{live_server_url}{path}")
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height > 900, f"{path} is not long enough to show the bug"
        sidebar = _css_rgb(page, ".sidebar")
        png = page.screenshot(path=screenshot_dir / f"{name}-long-{scheme}.png", full_page=True)
        top, bottom, content_bottom = _pixels(context, png, [(20, 450), (20, -3), (-20, -3)])
        assert top == sidebar, path
        assert bottom == sidebar, f"{path}: the sidebar's background stops short of the page bottom"
        assert content_bottom != sidebar, path  # the page's own background beside it
        # On screen too: scrolled to the bottom, the sidebar still fills the window's height.
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        box = page.locator(".sidebar").bounding_box()
        assert (box["y"], box["height"]) == (0, 900), path
        assert page.locator(".sidebar .sidebar-bottom").is_visible()
    context.close()


def test_recent_activity_on_a_phone_shows_every_cost_uncut(demo, live_server_url, screenshot_dir, chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = login(context, live_server_url, EMAIL, PASSWORD)
    page.goto(f"{live_server_url}/")
    wrap = page.locator("#recent-rows").locator("xpath=ancestor::div[contains(@class,'table-wrap')]")
    assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth"), (
        "the recent-activity table scrolls sideways"
    )
    edge = wrap.bounding_box()
    costs = page.locator("#recent-rows .cell-cost")
    assert costs.count() > 0
    for cell in costs.all():
        box = cell.bounding_box()
        assert (
            box["width"] > 0
            and box["x"] >= edge["x"]
            and box["x"] + box["width"] <= edge["x"] + edge["width"]
        )
        assert cell.inner_text().startswith("$")
    for cell in page.locator("#recent-rows .cell-status").all():
        box = cell.bounding_box()
        assert box["x"] + box["width"] <= edge["x"] + edge["width"]
    wrap.screenshot(path=screenshot_dir / "overview-recent-phone.png")
    page.screenshot(path=screenshot_dir / "overview-phone-full.png", full_page=True)
    context.close()
