"""Find alerts to send: low balances, and keys and organisation members at 80% or 100%
of their spend limit (a member's budget).

Run periodically (``manage.py send_alerts``), never from a request: the hot path
pays nothing for alerts. Each subject's ``AlertState`` row is locked while it is
decided, so two scanners running at once send an alert once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey
from accounts.organisations.models import Membership
from billing.alerts.models import AlertSettings, AlertState
from billing.alerts.services import alert_fire
from billing.models import CreditAccount
from promptgrid.money import format_usd
from promptgrid.periods import period_start

LIMIT_LEVELS = (100, 80)  # percent of a limit, highest first

T = TypeVar("T")


@dataclass(frozen=True)
class Reading:
    subject: str
    period: str
    level: int  # 0 when below every level
    amount_nanos: int = 0  # what was spent (or, for a balance, what is available)


# The spend counters billing keeps on keys and memberships alike.
_COUNTERS = ("limit_nanos", "limit_reset", "usage_nanos", "period_usage_nanos", "period_start")


def limit_level(spent_nanos: int, limit_nanos: int) -> int:
    """The highest level reached, exactly (integers: 80% is ``spent * 100 >= limit * 80``)."""
    for level in LIMIT_LEVELS:
        if spent_nanos * 100 >= limit_nanos * level:
            return level
    return 0


def period_spent(limited: ApiKey | Membership, now: datetime) -> tuple[int, str]:
    """What counts against a key's limit or a member's budget now, and its period.

    Both keep the same counters, maintained by billing in the hold and charge statements."""
    start = period_start(limited.limit_reset, now)
    if start is None:
        return limited.usage_nanos, "total"
    # Billing zeroes the period counter lazily, on the first hold of a new period.
    if limited.period_start is None or limited.period_start < start:
        return 0, start.isoformat()
    return limited.period_usage_nanos, start.isoformat()


def _known_levels(subjects: list[str]) -> dict[str, tuple[str, int]]:
    rows = AlertState.objects.filter(subject__in=subjects).values_list("subject", "period", "level")
    return {subject: (period, level) for subject, period, level in rows}


def _changed(reading: Reading, known: dict[str, tuple[str, int]]) -> bool:
    """Whether the reading could change anything; most scans of most subjects write nothing."""
    period, level = known.get(reading.subject, (reading.period, 0))
    return (period, level) != (reading.period, reading.level)


def _advance(state: AlertState, reading: Reading) -> bool:
    """Record ``reading`` on its locked state row; whether it crossed a level not yet sent."""
    sent = state.level if state.period == reading.period else 0
    if (state.period, state.level) == (reading.period, reading.level):
        return False
    state.period, state.level = reading.period, reading.level
    state.save(update_fields=["period", "level", "updated_at"])
    return reading.level > sent


def _scan(
    snapshot: Iterable[T],
    read: Callable[[T], Reading],
    refetch: Callable[[T], T | None],
    fire: Callable[[T, Reading], None],
) -> int:
    """Read every subject from one cheap snapshot; for the few that changed, lock the
    subject's state row, read the subject again (newer than any decision before this
    lock: a scanner with an older snapshot cannot undo a newer one's), decide, fire."""
    readings = [(item, read(item)) for item in snapshot]
    known = _known_levels([reading.subject for _, reading in readings])
    fired = 0
    for item, reading in readings:
        if not _changed(reading, known):
            continue
        with transaction.atomic():
            state, _ = AlertState.objects.get_or_create(subject=reading.subject)
            state = AlertState.objects.select_for_update().get(pk=state.pk)
            fresh = refetch(item)
            if fresh is None:
                continue
            reading = read(fresh)
            if _advance(state, reading):
                fire(fresh, reading)
                fired += 1
    return fired


def _read_balance(prefs: AlertSettings) -> Reading:
    available = prefs.account.available_nanos
    low = prefs.low_balance_nanos is not None and available < prefs.low_balance_nanos
    return Reading(f"balance:{prefs.account_id}", "", 1 if low else 0, available)


def scan_balances() -> int:
    watched = AlertSettings.objects.filter(low_balance_nanos__isnull=False).select_related("account")
    return _scan(
        watched,
        _read_balance,
        lambda prefs: watched.filter(pk=prefs.pk).first(),
        lambda prefs, reading: _fire_low_balance(
            prefs.account, prefs.low_balance_nanos, reading.amount_nanos
        ),
    )


def _fire_low_balance(account: CreditAccount, threshold: int, available: int) -> None:
    alert_fire(
        account=account,
        event_type="balance.low",
        data={"account_id": account.pk, "available_nanos": available, "threshold_nanos": threshold},
        subject=f"PromptGrid: your balance is below {format_usd(threshold)}",
        body=(
            f"The available balance of your PromptGrid account is {format_usd(available, 6)}, "
            f"below the {format_usd(threshold)} you asked to be told about.\n\n"
            "Top up on the Credits page to keep your API keys working."
        ),
        emails=True,
    )


def scan_key_limits(now: datetime | None = None) -> int:
    now = now or timezone.now()
    limited = (
        ApiKey.objects.filter(limit_nanos__gt=0, revoked_at__isnull=True)
        .exclude(kind=ApiKey.Kind.PLAYGROUND)
        # What the reading needs; the rest (the user, for the email) is read when one fires.
        .only(*_COUNTERS, "organisation_id", "user_id", "name", "masked", "kind")
    )

    def read(key: ApiKey) -> Reading:
        spent, period = period_spent(key, now)
        return Reading(f"key:{key.pk}", period, limit_level(spent, key.limit_nanos), spent)

    return _scan(
        limited,
        read,
        lambda key: limited.filter(pk=key.pk).first(),
        lambda key, reading: _fire_key_limit(key, reading.amount_nanos, reading.level, reading.period),
    )


def _spending_account(key: ApiKey) -> CreditAccount:
    if key.organisation_id:
        return CreditAccount.objects.get(organisation_id=key.organisation_id)
    return CreditAccount.objects.select_related("user").get(user_id=key.user_id)


def _fire_key_limit(key: ApiKey, spent: int, level: int, period: str) -> None:
    account = _spending_account(key)
    prefs = AlertSettings.objects.filter(account=account).first()
    reached = "has reached its spend limit" if level >= 100 else f"has used {level}% of its spend limit"
    stops = "It is refused until the limit resets or is raised." if level >= 100 else ""
    alert_fire(
        account=account,
        event_type="key.limit",
        data={
            "key_id": key.pk,
            "key_name": key.name,
            "level": level,
            "spent_nanos": spent,
            "limit_nanos": key.limit_nanos,
            "limit_reset": key.limit_reset,
            "period": period,
        },
        subject=f"PromptGrid: key “{key.name}” {reached}",
        body=(
            f"Your API key “{key.name}” ({key.masked}) {reached}: "
            f"{format_usd(spent, 6)} of {format_usd(key.limit_nanos)} "
            f"({key.get_limit_reset_display().lower()}). {stops}"
        ).strip(),
        emails=prefs.limit_emails if prefs else True,
        also_to=[key.user.email],  # the member whose key it is, beside an organisation's admins
    )


def scan_member_budgets(now: datetime | None = None) -> int:
    now = now or timezone.now()
    limited = Membership.objects.filter(limit_nanos__gt=0).only(*_COUNTERS, "organisation_id", "user_id")

    def read(membership: Membership) -> Reading:
        spent, period = period_spent(membership, now)
        return Reading(f"member:{membership.pk}", period, limit_level(spent, membership.limit_nanos), spent)

    return _scan(
        limited,
        read,
        lambda membership: limited.filter(pk=membership.pk).first(),
        lambda m, reading: _fire_member_budget(m, reading.amount_nanos, reading.level, reading.period),
    )


def _fire_member_budget(membership: Membership, spent: int, level: int, period: str) -> None:
    account = CreditAccount.objects.get(organisation_id=membership.organisation_id)
    prefs = AlertSettings.objects.filter(account=account).first()
    who = membership.user.email or str(membership.user)
    org = membership.organisation.name
    reached = "has reached" if level >= 100 else f"has used {level}% of"
    stops = " Their organisation keys are refused until it resets or is raised." if level >= 100 else ""
    alert_fire(
        account=account,
        event_type="member.budget",
        data={
            "organisation_id": membership.organisation_id,
            "member_id": membership.user_id,
            "member_email": membership.user.email,
            "level": level,
            "spent_nanos": spent,
            "limit_nanos": membership.limit_nanos,
            "limit_reset": membership.limit_reset,
            "period": period,
        },
        subject=f"PromptGrid: {who} {reached} their budget in {org}",
        body=(
            f"{who} {reached} their budget in {org}: {format_usd(spent, 6)} of "
            f"{format_usd(membership.limit_nanos)} ({membership.get_limit_reset_display().lower()}).{stops}"
        ),
        emails=prefs.limit_emails if prefs else True,
        also_to=[membership.user.email],
    )


def alerts_scan(now: datetime | None = None) -> int:
    """Send every alert that is due; returns how many fired."""
    return scan_balances() + scan_key_limits(now) + scan_member_budgets(now)
