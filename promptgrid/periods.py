"""Spend-limit periods of API keys: they reset at midnight UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def period_start(reset: str, now: datetime) -> datetime | None:
    """Start of the current period for a key's ``limit_reset``; None for "never"."""
    now = now.astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if reset == "daily":
        return midnight
    if reset == "weekly":  # weeks start on Monday
        return midnight - timedelta(days=midnight.weekday())
    if reset == "monthly":
        return midnight.replace(day=1)
    return None


def next_reset(reset: str, now: datetime) -> datetime | None:
    start = period_start(reset, now)
    if start is None:
        return None
    if reset == "daily":
        return start + timedelta(days=1)
    if reset == "weekly":
        return start + timedelta(days=7)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)
