"""The Content-Security-Policy header, and templates that keep to it (the browser tests
prove no page violates it; this catches a template no browser test opens)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"
INLINE_STYLE = re.compile(r"\sstyle\s*=", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
BARE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src|nonce)=)[^>]*>", re.I)


@pytest.mark.django_db
def test_pages_carry_the_policy_and_the_inline_script_its_nonce(client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "script-src 'self' 'nonce-" in policy and "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert f'<script nonce="{nonce}">' in response.content.decode()
    # A fresh nonce for every response.
    assert nonce not in client.get("/accounts/login/")["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_no_template_has_an_inline_style_handler_or_unnonced_script(path):
    text = path.read_text()
    assert not INLINE_STYLE.search(text), "use a class in static/css/app.css"
    assert not INLINE_HANDLER.search(text), "attach the handler from a static script"
    assert not BARE_SCRIPT.search(text), 'inline scripts need nonce="{{ request.csp_nonce }}"'
