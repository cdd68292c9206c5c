from django import template

from billing.money import format_usd

register = template.Library()


@register.filter
def usd(nanos: int | None, places: int = 2) -> str:
    """Render nano-USD as dollars (``billing.money.format_usd``)."""
    return format_usd(int(nanos or 0), int(places))
