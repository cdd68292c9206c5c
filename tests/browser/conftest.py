"""Headless Chromium (Debian's ``chromium``, never a downloaded browser) for dashboard tests.

Screenshots go to ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.core.management import call_command
from django.db import connections

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

T = TypeVar("T")

EMAIL = "demo@promptgrid.local"
PASSWORD = "demo-password-123"


@pytest.fixture
def chromium(django_db_setup: Any) -> Iterator[Any]:
    """A browser for one test; request it after the fixtures that write to the database.

    Playwright's sync API keeps an event loop running in this thread, so Django refuses
    ORM calls here while the browser is open: read the database through ``in_thread``.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _call_and_close(fn: Callable[[], T]) -> T:
    try:
        return fn()
    finally:
        connections.close_all()  # a worker's connection must not outlive it (PostgreSQL drops the test DB)


def in_thread(fn: Callable[[], T]) -> T:
    """Run a database read from a test while the browser is open, in a plain worker thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_call_and_close, fn).result()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def login(context: Any, base_url: str, email: str, password: str) -> Any:
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{base_url}/")
    return page


@pytest.fixture
def demo(make_mock_model: Any, make_openai_model: Any) -> None:
    """A user with a month of history over four models (``seed_demo``)."""
    make_mock_model(input_price="0.5", output_price="1.5")
    make_openai_model()
    make_openai_model(slug="openai/gpt-4o", upstream_model="gpt-4o", input_price="2.5", output_price="10")
    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="0.2", output_price="0.8")
    call_command(
        "seed_demo",
        "--email",
        EMAIL,
        "--password",
        PASSWORD,
        "--days",
        "30",
        "--per-day",
        "12",
        stdout=StringIO(),
    )
