from django import template

from promptgrid.money import format_usd, nanos_to_usd

register = template.Library()


@register.filter
def usd(nanos: int | None, places: int = 2) -> str:
    """Render nano-USD as dollars (``promptgrid.money.format_usd``)."""
    return format_usd(int(nanos or 0), int(places))


@register.filter
def usd_exact(nanos: int | None) -> str:
    """Every nano of an amount, at least cents: ``$5.00``, ``-$0.000123456``."""
    amount = nanos_to_usd(int(nanos or 0))
    places = max(2, -int(amount.normalize().as_tuple().exponent))
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.{places}f}"
