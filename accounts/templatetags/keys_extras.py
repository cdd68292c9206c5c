"""Template filters for the keys pages: money in nanos shown as USD."""

from __future__ import annotations

from django import template

from billing.money import format_usd

register = template.Library()


@register.filter
def usd(nanos: int | None) -> str:
    """``1234500000|usd`` → ``$1.23``; None (no limit) → an empty string."""
    if nanos is None:
        return ""
    return format_usd(int(nanos))
