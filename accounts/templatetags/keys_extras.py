"""Template filters for the keys pages: money in nanos shown as USD."""

from __future__ import annotations

from django import template

from promptgrid.money import format_usd, nanos_to_usd

register = template.Library()


@register.filter
def usd(nanos: int | None) -> str:
    """``1234500000|usd`` → ``$1.23``; None (no limit) → an empty string."""
    if nanos is None:
        return ""
    return format_usd(int(nanos))


@register.filter
def usd_exact(nanos: int | None) -> str:
    """Like ``usd`` but with every significant decimal, for limits the user typed: ``$12.345``."""
    if nanos is None:
        return ""
    exponent = nanos_to_usd(int(nanos)).normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return format_usd(int(nanos), min(places, 9))
