from __future__ import annotations

from typing import Any

from django import template

from promptgrid.money import format_usd

register = template.Library()


@register.filter
def audit_value(value: Any, name: str) -> str:
    """A logged value as a person reads it: amounts in USD, nothing as an em dash."""
    if value is None or value == "":
        return "—"
    if name.endswith("_nanos") and isinstance(value, int):
        return format_usd(value, 6)
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    return str(value)
