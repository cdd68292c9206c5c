"""The theme's colour pairs meet WCAG AA contrast (4.5:1 for text) in light and dark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[3] / "static" / "css" / "app.css").read_text()

# (foreground, background) pairs that carry text somewhere in the dashboard.
TEXT_PAIRS = [
    ("text", "bg"),
    ("text", "surface"),
    ("text-2", "surface"),
    ("text-2", "surface-2"),
    ("text-3", "bg"),
    ("text-3", "surface"),
    ("text-3", "surface-2"),
    ("accent-text", "surface"),
    ("accent-text", "accent-soft"),
    ("on-accent", "accent"),
    ("ok", "ok-soft"),
    ("warn", "warn-soft"),
    ("bad", "bad-soft"),
    ("info", "info-soft"),
]


def _block(selector: str) -> dict[str, str]:
    match = re.search(re.escape(selector) + r"\s*\{(.*?)\n\}", CSS, re.S)
    assert match, selector
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", match.group(1)))


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


LIGHT = _block(":root")
DARK = {**LIGHT, **_block('[data-theme="dark"]')}


def test_contrast_formula_matches_wcag_reference_values():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic just-failing grey


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_text_colours_reach_aa(theme, fg, bg):
    colours = LIGHT if theme == "light" else DARK
    ratio = contrast(colours[fg], colours[bg])
    assert ratio >= 4.5, f"{theme}: --{fg} on --{bg} is {ratio:.2f}:1"
