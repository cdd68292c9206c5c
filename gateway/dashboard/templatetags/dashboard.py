"""Display filters for the dashboard: money from nanos, compact counts, durations."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html

from gateway.dashboard.charts import compact_number
from promptgrid.money import format_usd

register = template.Library()


@register.filter
def usd(nanos: int | None, places: int = 2) -> str:
    """Nano-USD as dollars (``$12.34``; tiny amounts keep enough places to be non-zero)."""
    return format_usd(int(nanos or 0), int(places))


@register.filter
def balance(nanos: int | None) -> str:
    """A balance to the nano-dollar that matters: ``$5.00``, ``$4.999964`` after a tiny charge.

    Rounding a balance to cents would hide the effect of the cheap requests most users make.
    """
    text = format_usd(int(nanos or 0), 6)
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac.ljust(2, '0')}"


@register.filter
def balance_html(nanos: int | None) -> str:
    """``balance`` with the digits past the cents set smaller, so large figures still fit."""
    text = balance(nanos)
    whole, _, frac = text.partition(".")
    return format_html('{}.{}<span class="sub-cents">{}</span>', whole, frac[:2], frac[2:])


@register.filter
def cost(nanos: int | None) -> str:
    """A single request's cost: six places, because most cost fractions of a cent."""
    return format_usd(int(nanos or 0), 6)


@register.filter
def compact(value: int | float | None) -> str:
    return compact_number(value or 0)


@register.filter
def duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    return f"{ms / 1000:.2f} s"


@register.filter
def status_class(status: str) -> str:
    return {"success": "badge-ok", "error": "badge-bad", "cancelled": "badge-warn"}.get(status, "badge-muted")


@register.filter
def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


@register.filter
def per_million(price: Decimal | None) -> str:
    """A price in USD per million tokens: ``$0.15``, ``$2.50``, ``$0.0375``; free is ``Free``."""
    if price is None:
        return "—"
    price = Decimal(price)
    if price == 0:
        return "Free"
    text = f"{price.normalize():f}"
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


@register.filter
def context_size(tokens: int | None) -> str:
    """128000 -> '128K', 1048576 -> '1M'."""
    if not tokens:
        return "—"
    # Vendors quote both decimal (128,000) and binary (131,072) sizes; both read as "128K".
    unit = 1000 if tokens % 1000 == 0 or tokens % 1024 else 1024
    if tokens >= 1_000_000:
        return f"{tokens / unit**2:.2f}".rstrip("0").rstrip(".") + "M"
    return f"{round(tokens / unit)}K"
