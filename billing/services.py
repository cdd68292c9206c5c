"""The only code that moves money.

Every function here runs in one transaction. Balances change only together with
the ledger row that explains them (invariant 1), usage is idempotent on the
generation id (invariant 2), and holds are placed with conditional UPDATEs so
``balance - held`` can never go below zero however many processes race
(invariant 3): the database row lock taken by the UPDATE serialises them, on
PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import ApiKey
from billing.models import CreditAccount, Hold, LedgerEntry
from billing.periods import period_start


class BillingError(Exception):
    """Base of refusals that map to HTTP 402."""


class InsufficientCredits(BillingError):
    pass


class KeyLimitReached(BillingError):
    pass


@dataclass(frozen=True)
class PlacedHold:
    id: int
    account_id: int
    api_key_id: int | None
    amount_nanos: int


def account_for_user(*, user: Any) -> CreditAccount:
    account, _ = CreditAccount.objects.get_or_create(user=user)
    return account


@transaction.atomic
def ledger_post(
    *,
    account_id: int,
    kind: str,
    amount_nanos: int,
    idempotency_key: str,
    memo: str = "",
    actor: Any = None,
    generation_id: str = "",
) -> tuple[LedgerEntry, bool]:
    """Append one entry and move the cached balance with it.

    Returns ``(entry, created)``; a repeated idempotency key returns the first
    entry and changes nothing.
    """
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(
                account_id=account_id,
                kind=kind,
                amount_nanos=amount_nanos,
                idempotency_key=idempotency_key,
                memo=memo[:500],
                actor=actor,
                generation_id=generation_id,
            )
    except IntegrityError:
        return LedgerEntry.objects.get(account_id=account_id, idempotency_key=idempotency_key), False
    CreditAccount.objects.filter(pk=account_id).update(balance_nanos=F("balance_nanos") + amount_nanos)
    return entry, True


def credits_grant(
    *,
    account: CreditAccount,
    amount_nanos: int,
    memo: str = "",
    actor: Any = None,
    idempotency_key: str | None = None,
    kind: str = LedgerEntry.Kind.GRANT,
) -> LedgerEntry:
    if amount_nanos <= 0:
        raise ValueError("a grant must be a positive amount")
    key = idempotency_key or f"{kind}:{timezone.now().isoformat()}:{id(object())}"
    entry, _ = ledger_post(
        account_id=account.pk,
        kind=kind,
        amount_nanos=amount_nanos,
        idempotency_key=key,
        memo=memo,
        actor=actor,
    )
    return entry


def _release_expired(account_id: int, now: Any) -> None:
    expired = list(
        Hold.objects.filter(account_id=account_id, status=Hold.Status.OPEN, expires_at__lt=now).values_list(
            "id", flat=True
        )
    )
    for hold_id in expired:
        _close_hold(hold_id, Hold.Status.EXPIRED, now)


def _close_hold(hold_id: int, status: str, now: Any) -> Hold | None:
    """Close an open hold and give its amount back to the account and key. None if not open."""
    hold = Hold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None or hold.status != Hold.Status.OPEN:
        return None
    Hold.objects.filter(pk=hold_id).update(status=status, closed_at=now)
    CreditAccount.objects.filter(pk=hold.account_id).update(held_nanos=F("held_nanos") - hold.amount_nanos)
    if hold.api_key_id:
        ApiKey.objects.filter(pk=hold.api_key_id).update(held_nanos=F("held_nanos") - hold.amount_nanos)
    hold.status = status
    return hold


def _key_hold(api_key_id: int, amount_nanos: int, now: Any) -> None:
    """Add the hold to the key's open holds, within its spend limit for the current period."""
    key = ApiKey.objects.filter(pk=api_key_id).values("limit_reset", "limit_nanos").first()
    if key is None or key["limit_nanos"] is None:
        ApiKey.objects.filter(pk=api_key_id).update(held_nanos=F("held_nanos") + amount_nanos)
        return
    start = period_start(key["limit_reset"], now)
    if start is not None:
        ApiKey.objects.filter(pk=api_key_id).filter(
            Q(period_start__lt=start) | Q(period_start__isnull=True)
        ).update(period_usage_nanos=0, period_start=start)
    spent = F("usage_nanos") if start is None else F("period_usage_nanos")
    ok = ApiKey.objects.filter(pk=api_key_id, limit_nanos__gte=spent + F("held_nanos") + amount_nanos).update(
        held_nanos=F("held_nanos") + amount_nanos
    )
    if not ok:
        # Raising out of the atomic block also rolls back the account's hold.
        raise KeyLimitReached("this key's spend limit is reached")


@transaction.atomic
def hold_place(
    *,
    account_id: int,
    amount_nanos: int,
    ttl_seconds: int,
    api_key_id: int | None = None,
    generation_id: str = "",
) -> PlacedHold:
    """Reserve ``amount_nanos`` or raise InsufficientCredits / KeyLimitReached.

    Succeeds only if the account's balance minus open holds covers the amount and,
    when the key has a spend limit, the key's spend in its period plus its open
    holds stays within it.
    """
    if amount_nanos < 0:
        raise ValueError("a hold cannot be negative")
    now = timezone.now()
    _release_expired(account_id, now)
    updated = CreditAccount.objects.filter(
        pk=account_id, balance_nanos__gte=F("held_nanos") + amount_nanos
    ).update(held_nanos=F("held_nanos") + amount_nanos)
    if not updated:
        raise InsufficientCredits("insufficient credits")
    if api_key_id is not None:
        _key_hold(api_key_id, amount_nanos, now)
    hold = Hold.objects.create(
        account_id=account_id,
        api_key_id=api_key_id,
        amount_nanos=amount_nanos,
        generation_id=generation_id,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    return PlacedHold(id=hold.pk, account_id=account_id, api_key_id=api_key_id, amount_nanos=amount_nanos)


@transaction.atomic
def hold_settle(*, hold_id: int, cost_nanos: int, generation_id: str, memo: str = "") -> LedgerEntry | None:
    """Charge the actual cost (even above the hold) and release the hold, exactly once.

    Idempotent on ``generation_id``: settling again changes nothing. A zero cost
    writes no entry (an empty answer costs nothing).
    """
    if cost_nanos < 0:
        raise ValueError("a cost cannot be negative")
    now = timezone.now()
    hold = Hold.objects.select_for_update().get(pk=hold_id)
    if hold.status == Hold.Status.SETTLED:
        return LedgerEntry.objects.filter(
            account_id=hold.account_id, idempotency_key=f"usage:{generation_id}"
        ).first()
    was_open = hold.status == Hold.Status.OPEN
    Hold.objects.filter(pk=hold_id).update(
        status=Hold.Status.SETTLED, closed_at=now, generation_id=generation_id
    )
    released = hold.amount_nanos if was_open else 0
    entry = None
    if cost_nanos:
        entry, _ = ledger_post(
            account_id=hold.account_id,
            kind=LedgerEntry.Kind.USAGE,
            amount_nanos=-cost_nanos,
            idempotency_key=f"usage:{generation_id}",
            generation_id=generation_id,
            memo=memo,
        )
    if released:
        CreditAccount.objects.filter(pk=hold.account_id).update(held_nanos=F("held_nanos") - released)
    if hold.api_key_id and (released or cost_nanos):
        ApiKey.objects.filter(pk=hold.api_key_id).update(
            held_nanos=F("held_nanos") - released,
            usage_nanos=F("usage_nanos") + cost_nanos,
            period_usage_nanos=F("period_usage_nanos") + cost_nanos,
        )
    return entry


@transaction.atomic
def hold_release(*, hold_id: int) -> bool:
    """Give an unused hold back (nothing reached the provider). True if it was open."""
    return _close_hold(hold_id, Hold.Status.RELEASED, timezone.now()) is not None


def holds_release_expired() -> int:
    """Release every open hold past its ttl; returns how many."""
    now = timezone.now()
    count = 0
    ids = list(Hold.objects.filter(status=Hold.Status.OPEN, expires_at__lt=now).values_list("id", flat=True))
    for hold_id in ids:
        with transaction.atomic():
            if _close_hold(hold_id, Hold.Status.EXPIRED, now) is not None:
                count += 1
    return count
