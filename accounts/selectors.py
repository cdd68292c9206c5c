"""Reads for accounts: a user's keys, their spend, and the models a key may be limited to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from accounts.models import ApiKey
from promptgrid.periods import next_reset, period_start

PERIODS = ("daily", "weekly", "monthly")


def api_keys_visible(
    *, user: Any, include_revoked: bool = True, organisation_id: int | None = None, everyone: bool = False
) -> QuerySet[ApiKey]:
    """The keys a user manages in a context, without the dashboard's internal playground keys.

    The personal context (``organisation_id`` None) is the user's own personal keys. In an
    organisation, the user's own keys there, or with ``everyone`` (the caller has checked
    the user is an admin) every member's.
    """
    keys = (
        ApiKey.objects.filter(organisation_id=organisation_id)
        if organisation_id
        else ApiKey.objects.filter(organisation__isnull=True)
    )
    if not (organisation_id and everyone):
        keys = keys.filter(user=user)
    keys = keys.exclude(kind=ApiKey.Kind.PLAYGROUND)
    if not include_revoked:
        keys = keys.filter(revoked_at__isnull=True)
    return keys.order_by("-created_at", "-id")


def api_key_get_for_user(
    *,
    user: Any,
    key_id: int | str,
    include_revoked: bool = True,
    organisation_id: int | None = None,
    everyone: bool = False,
) -> ApiKey:
    """The key with this id (or 64-hex hash, as OpenRouter's API names keys) among those
    ``api_keys_visible`` gives the user in this context; 404 otherwise.

    Someone else's key and a key that does not exist look the same: 404.
    """
    keys = api_keys_visible(
        user=user, include_revoked=include_revoked, organisation_id=organisation_id, everyone=everyone
    )
    ref = str(key_id)
    # ASCII only: str.isdigit accepts "²" (int() refuses it) and "١" (int() reads it as 1).
    if ref.isascii() and ref.isdigit() and len(ref) < 19:
        key = keys.filter(pk=int(ref)).first()
    elif len(ref) == 64:
        key = keys.filter(secret_hash=ref.lower()).first()
    else:
        key = None
    if key is None:
        raise Http404("No such key.")
    return key


@dataclass(frozen=True)
class KeyUsage:
    """Spend of one key in nano-USD: in total and in the current UTC day, week and month."""

    total_nanos: int
    daily_nanos: int
    weekly_nanos: int
    monthly_nanos: int
    limit_nanos: int | None
    limit_reset: str
    period_spent_nanos: int  # what counts against the limit right now

    @property
    def remaining_nanos(self) -> int | None:
        if self.limit_nanos is None:
            return None
        return max(self.limit_nanos - self.period_spent_nanos, 0)


def _period_spent(key: ApiKey, now: datetime) -> int:
    """What the key spent in its current limit period, from billing's counters."""
    start = period_start(key.limit_reset, now)
    if start is None:
        return key.usage_nanos
    # Billing zeroes the period counter lazily, on the first hold of a new period.
    if key.period_start is None or key.period_start < start:
        return 0
    return key.period_usage_nanos


def api_key_usage(*, keys: Iterable[ApiKey], now: datetime | None = None) -> dict[int, KeyUsage]:
    """Spend per key id, in one query over the keys' generations since the earliest period start.

    The total comes from the key's running counter (exact, kept by billing); the
    day/week/month sums from the generations' costs, through the
    ``(user, api_key, -created_at)`` index.
    """
    keys = list(keys)
    if not keys:
        return {}
    from billing.models import Generation  # key spend: see the import contracts in .importlinter

    now = now or timezone.now()
    starts = {period: period_start(period, now) for period in PERIODS}
    earliest = min(s for s in starts.values() if s is not None)
    rows = (
        Generation.objects.filter(
            user_id__in={key.user_id for key in keys},
            api_key_id__in=[key.pk for key in keys],
            created_at__gte=earliest,
        )
        .order_by()
        .values("api_key_id")
        .annotate(
            **{
                period: Sum("cost_nanos", filter=Q(created_at__gte=starts[period]), default=0)
                for period in PERIODS
            }
        )
    )
    sums = {row["api_key_id"]: row for row in rows}
    usage: dict[int, KeyUsage] = {}
    for key in keys:
        row = sums.get(key.pk, {})
        usage[key.pk] = KeyUsage(
            total_nanos=key.usage_nanos,
            daily_nanos=row.get("daily", 0) or 0,
            weekly_nanos=row.get("weekly", 0) or 0,
            monthly_nanos=row.get("monthly", 0) or 0,
            limit_nanos=key.limit_nanos,
            limit_reset=key.limit_reset,
            period_spent_nanos=_period_spent(key, now),
        )
    return usage


def api_key_next_reset(key: ApiKey, now: datetime | None = None) -> datetime | None:
    return next_reset(key.limit_reset, now or timezone.now())


def enabled_model_slugs() -> set[str]:
    """Model ids a key can be limited to: the enabled catalog."""
    from catalog.models import Model

    return set(Model.objects.filter(enabled=True).values_list("slug", flat=True))
