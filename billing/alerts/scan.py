"""Find alerts to send: low balances, and keys and organisation members at 80% or 100%
of their spend limit (a member's budget).

Run periodically (``manage.py send_alerts``), never from a request: the hot path
pays nothing for alerts. Each subject's ``AlertState`` row is locked while it is
decided, so two scanners running at once send an alert once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True)
class Reading:
    subject: str
    period: str
    level: int  # 0 when below every level


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


def _advance(reading: Reading) -> int | None:
    """Record ``reading``; return the level to alert about, or None. Call in a transaction."""
    state, _ = AlertState.objects.get_or_create(subject=reading.subject)
    state = AlertState.objects.select_for_update().get(pk=state.pk)
    sent = state.level if state.period == reading.period else 0
    if reading.level == sent and state.period == reading.period:
        return None
    state.period, state.level = reading.period, reading.level
    state.save(update_fields=["period", "level", "updated_at"])
    return reading.level if reading.level > sent else None


def _known_levels(subjects: list[str]) -> dict[str, tuple[str, int]]:
    rows = AlertState.objects.filter(subject__in=subjects).values_list("subject", "period", "level")
    return {subject: (period, level) for subject, period, level in rows}


def _changed(reading: Reading, known: dict[str, tuple[str, int]]) -> bool:
    """Whether the reading could change anything; most scans of most subjects write nothing."""
    period, level = known.get(reading.subject, (reading.period, 0))
    return (period, level) != (reading.period, reading.level)


def scan_balances() -> int:
    fired = 0
    watched = list(
        AlertSettings.objects.filter(low_balance_nanos__isnull=False).select_related("account__user")
    )
    readings = []
    for prefs in watched:
        account = prefs.account
        low = account.available_nanos < prefs.low_balance_nanos
        readings.append((prefs, Reading(f"balance:{account.pk}", "", 1 if low else 0)))
    known = _known_levels([reading.subject for _, reading in readings])
    for prefs, reading in readings:
        if not _changed(reading, known):
            continue
        with transaction.atomic():
            if _advance(reading) is None:
                continue
            account = CreditAccount.objects.get(pk=prefs.account_id)  # fresh, for the message
            _fire_low_balance(account, prefs.low_balance_nanos)
            fired += 1
    return fired


def _fire_low_balance(account: CreditAccount, threshold: int) -> None:
    available = account.available_nanos
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
    fired = 0
    keys = list(
        ApiKey.objects.filter(limit_nanos__gt=0, revoked_at__isnull=True)
        .exclude(kind=ApiKey.Kind.PLAYGROUND)
        # What the reading needs; the rest (the user, for the email) is read when one fires.
        .only(*_COUNTERS, "organisation_id", "user_id", "name", "masked")
    )
    readings = []
    for key in keys:
        spent, period = period_spent(key, now)
        readings.append((key, spent, Reading(f"key:{key.pk}", period, limit_level(spent, key.limit_nanos))))
    known = _known_levels([reading.subject for _, _, reading in readings])
    for key, spent, reading in readings:
        if not _changed(reading, known):
            continue
        with transaction.atomic():
            level = _advance(reading)
            if level is None:
                continue
            _fire_key_limit(key, spent, level, reading.period)
            fired += 1
    return fired


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
    fired = 0
    members = list(
        Membership.objects.filter(limit_nanos__gt=0).only(*_COUNTERS, "organisation_id", "user_id")
    )
    readings = []
    for membership in members:
        spent, period = period_spent(membership, now)
        level = limit_level(spent, membership.limit_nanos)
        readings.append((membership, spent, Reading(f"member:{membership.pk}", period, level)))
    known = _known_levels([reading.subject for _, _, reading in readings])
    for membership, spent, reading in readings:
        if not _changed(reading, known):
            continue
        with transaction.atomic():
            level = _advance(reading)
            if level is None:
                continue
            _fire_member_budget(membership, spent, level, reading.period)
            fired += 1
    return fired


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
