"""The only code that moves money.

Every public function here runs in one transaction. Balances change only
together with the ledger row that explains them (invariant 1): inserting a
``LedgerEntry`` moves its account's balance through a database trigger (see
``billing.db_triggers``), so neither can happen without the other. Usage is
idempotent on the generation id (invariant 2). Holds are placed with
conditional UPDATEs so ``balance - held`` never goes below zero however many
processes race (invariant 3): the row lock taken by the UPDATE serialises them
on PostgreSQL, and SQLite runs every write transaction ``BEGIN IMMEDIATE``.

Lock order, everywhere, to rule out deadlocks between concurrent requests of one
account: the CreditAccount row, then its Hold rows (by id), then the ApiKey row, then the
organisation Membership row (an organisation key's member budget).
Payments are locked before the account they credit, and nothing that locks an
account ever waits for a payment.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Case, DateTimeField, F, Q, QuerySet, Value, When
from django.db.models.sql import InsertQuery
from django.utils import timezone

from accounts.audit_log import record
from accounts.models import ApiKey
from accounts.organisations.models import Membership, Organisation
from accounts.secrets import hash_secret
from billing import db_functions
from billing.models import CreditAccount, Hold, LedgerEntry, Payment, RedeemCode, Shortfall
from promptgrid.money import NANOS_PER_USD, format_usd, usd_to_nanos
from promptgrid.periods import period_start

logger = logging.getLogger(__name__)


class BillingError(Exception):
    """Base of refusals that map to HTTP 402."""


class InsufficientCredits(BillingError):
    pass


class KeyLimitReached(BillingError):
    pass


class MemberBudgetReached(BillingError):
    """The organisation member's budget (for the period) is spent."""


class NotAMember(MemberBudgetReached):
    """The organisation key's owner is no longer a member (their keys are being revoked)."""


class RedeemRefused(Exception):
    """The code is unknown, used or expired; the message is safe to show."""


class CheckoutRefused(Exception):
    """A top-up amount outside the allowed bounds, or Stripe is not configured."""


@dataclass(frozen=True)
class PlacedHold:
    id: int
    account_id: int
    api_key_id: int | None
    amount_nanos: int


# Which sign each kind of entry may carry.
_CREDIT_KINDS = {LedgerEntry.Kind.GRANT, LedgerEntry.Kind.TOPUP, LedgerEntry.Kind.REFUND}


def account_for_user(*, user: Any) -> CreditAccount:
    account, _ = CreditAccount.objects.get_or_create(user=user)
    return account


def account_for_organisation(*, organisation: Organisation) -> CreditAccount:
    """The organisation's own account (opened on first use, empty)."""
    account, _ = CreditAccount.objects.get_or_create(organisation=organisation)
    return account


@transaction.atomic
def account_open_for_new_user(*, user: Any) -> CreditAccount:
    """Open the user's account and grant ``SIGNUP_CREDITS`` once (key ``signup:<user id>``)."""
    account = account_for_user(user=user)
    amount = usd_to_nanos(settings.SIGNUP_CREDITS)
    if amount > 0:
        credits_grant(
            account=account,
            amount_nanos=amount,
            memo="Signup credits",
            idempotency_key=f"signup:{user.pk}",
        )
    return account


def _ledger_check(*, kind: str, amount_nanos: int, idempotency_key: str, generation_id: str) -> None:
    if kind not in LedgerEntry.Kind.values:
        raise ValueError(f"unknown ledger kind {kind!r}")
    if not isinstance(amount_nanos, int) or amount_nanos == 0:
        raise ValueError("a ledger entry moves a non-zero whole number of nanos")
    if kind in _CREDIT_KINDS and amount_nanos < 0:
        raise ValueError(f"a {kind} entry must be positive")
    if kind == LedgerEntry.Kind.USAGE and (amount_nanos > 0 or not generation_id):
        raise ValueError("a usage entry is negative and names its generation")
    if not idempotency_key:
        raise ValueError("an idempotency key is required")


def _ledger_insert(entry: LedgerEntry) -> tuple[LedgerEntry, bool]:
    """Insert ``entry`` unless its idempotency key (or its generation) is already charged.

    ``INSERT … ON CONFLICT DO NOTHING`` instead of catching IntegrityError: no savepoint
    (two round trips) around every insert. The caller holds the transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_ledgerentry (account_id, kind, amount_nanos, generation_id,"
            " idempotency_key, memo, actor_id, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING id",
            [
                entry.account_id,
                entry.kind,
                entry.amount_nanos,
                entry.generation_id,
                entry.idempotency_key,
                entry.memo,
                entry.actor_id,
                entry.created_at,
            ],
        )
        row = cursor.fetchone()
    if row is not None:
        entry.pk = row[0]
        entry._state.adding = False
        return entry, True
    existing = LedgerEntry.objects.filter(
        account_id=entry.account_id, idempotency_key=entry.idempotency_key
    ).first()
    if existing is None:  # another constraint (a generation charged on another account)
        raise IntegrityError(f"ledger entry refused: generation {entry.generation_id!r} is already charged")
    return existing, False


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
    """Append one entry; the database moves the cached balance with it.

    Returns ``(entry, created)``; a repeated idempotency key returns the first
    entry and changes nothing.
    """
    _ledger_check(
        kind=kind, amount_nanos=amount_nanos, idempotency_key=idempotency_key, generation_id=generation_id
    )
    entry, created = _ledger_insert(
        LedgerEntry(
            account_id=account_id,
            kind=kind,
            amount_nanos=amount_nanos,
            idempotency_key=idempotency_key,
            memo=memo[:500],
            actor=actor,
            generation_id=generation_id,
            created_at=timezone.now(),
        )
    )
    if created and kind != LedgerEntry.Kind.USAGE:
        # Usage is announced by the gateway with its generation; other moves here, once committed.
        transaction.on_commit(lambda: _announce_balance(account_id))
    return entry, created


def _announce_balance(account_id: int) -> None:
    """Tell the owner's open dashboards the balance changed (fire and forget)."""
    row = CreditAccount.objects.filter(pk=account_id).values("user_id", "balance_nanos").first()
    if row is None:
        return
    if row["user_id"] is None:
        return  # an organisation's dashboards read its balance when they load (no per-user channel)
    try:
        from asgiref.sync import async_to_sync

        from promptgrid.live import publish

        async_to_sync(publish)(row["user_id"], "balance", {"balance_nanos": row["balance_nanos"]})
    except Exception:  # a dashboard that is not listening must never fail a payment
        logger.warning("could not announce a balance change", exc_info=True)


@transaction.atomic
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
    # A random key unless the caller names the event: two grants in the same
    # microsecond must not be mistaken for one.
    key = idempotency_key or f"{kind}:{uuid.uuid4().hex}"
    entry, created = ledger_post(
        account_id=account.pk,
        kind=kind,
        amount_nanos=amount_nanos,
        idempotency_key=key,
        memo=memo,
        actor=actor,
    )
    if created:
        record(
            actor=actor,
            action=f"credits.{kind}",
            target=account,
            new={"amount_nanos": amount_nanos, "memo": entry.memo, "ledger_entry": entry.pk},
        )
    return entry


# -- holds --------------------------------------------------------------------------------------


def _lock_account(account_id: int) -> None:
    list(CreditAccount.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True))


def _lock_hold(hold_id: int) -> Hold:
    """Lock the hold's account, then the hold (the fixed lock order); DoesNotExist if none."""
    list(
        CreditAccount.objects.select_for_update(of=("self",))
        .filter(holds__id=hold_id)
        .values_list("pk", flat=True)
    )
    return Hold.objects.select_for_update().get(pk=hold_id)


def _close_locked(hold: Hold, status: str, now: datetime) -> bool:
    """Close a locked hold and give its amount back to the account and key. False if not open."""
    if hold.status != Hold.Status.OPEN:
        return False
    Hold.objects.filter(pk=hold.pk).update(status=status, closed_at=now)
    CreditAccount.objects.filter(pk=hold.account_id).update(held_nanos=F("held_nanos") - hold.amount_nanos)
    if hold.api_key_id:
        ApiKey.objects.filter(pk=hold.api_key_id).update(held_nanos=F("held_nanos") - hold.amount_nanos)
    if hold.membership_id:
        Membership.objects.filter(pk=hold.membership_id).update(
            held_nanos=F("held_nanos") - hold.amount_nanos
        )
    hold.status = status
    return True


def _release_expired(account_id: int, now: datetime) -> int:
    # A cheap unlocked look first: almost always there is nothing to release.
    if not Hold.objects.filter(account_id=account_id, status=Hold.Status.OPEN, expires_at__lt=now).exists():
        return 0
    _lock_account(account_id)
    holds = Hold.objects.select_for_update().filter(
        account_id=account_id, status=Hold.Status.OPEN, expires_at__lt=now
    )
    return sum(_close_locked(hold, Hold.Status.EXPIRED, now) for hold in holds.order_by("pk"))


def _account_hold(account_id: int, amount_nanos: int) -> bool:
    # The check and the reservation are one statement: no other transaction can
    # slip between them (the row stays locked until commit).
    return bool(
        CreditAccount.objects.filter(pk=account_id, balance_nanos__gte=F("held_nanos") + amount_nanos).update(
            held_nanos=F("held_nanos") + amount_nanos
        )
    )


_PERIODIC_RESETS = ("daily", "weekly", "monthly")


def _limited_hold(rows: QuerySet, amount_nanos: int, now: datetime) -> bool:
    """Add the hold to the open holds of a key or a membership (``rows``: one row), within its
    spend limit for the current period. False if the limit has no room.

    One conditional UPDATE: a limited row whose period has rolled over starts the new one
    at zero (the reset is part of the same statement, so it happens once and only with a
    hold), and a row with a limit takes the hold only if its period's spend plus open
    holds leave room for it. Keys and memberships share the columns and the rule.
    """
    start = Case(
        *(When(limit_reset=reset, then=Value(period_start(reset, now))) for reset in _PERIODIC_RESETS),
        default=Value(None),
        output_field=DateTimeField(),
    )
    periodic = Q(limit_reset__in=_PERIODIC_RESETS)
    rolled_over = Q(period_start__isnull=True) | Q(period_start__lt=start)
    new_period = Q(limit_nanos__isnull=False) & periodic & rolled_over
    spent = Case(
        When(new_period, then=Value(0)),
        When(periodic, then=F("period_usage_nanos")),
        default=F("usage_nanos"),
        output_field=BigIntegerField(),
    )
    return bool(
        rows.filter(
            Q(limit_nanos__isnull=True) | Q(limit_nanos__gte=spent + F("held_nanos") + amount_nanos)
        ).update(
            held_nanos=F("held_nanos") + amount_nanos,
            period_usage_nanos=Case(
                When(new_period, then=Value(0)),
                default=F("period_usage_nanos"),
                output_field=BigIntegerField(),
            ),
            period_start=Case(When(new_period, then=start), default=F("period_start")),
        )
    )


def _key_hold(api_key_id: int, amount_nanos: int, now: datetime) -> int | None:
    """Reserve against the key's limit and, for an organisation's key, its member's budget.

    Returns the membership the hold counts against (None for a personal key). Raising out
    of the atomic block also rolls back the account's hold.
    """
    if not _limited_hold(ApiKey.objects.filter(pk=api_key_id), amount_nanos, now):
        if ApiKey.objects.filter(pk=api_key_id).exists():
            raise KeyLimitReached("this key's spend limit is reached")
        return None
    owner = ApiKey.objects.filter(pk=api_key_id, organisation__isnull=False).values_list(
        "organisation_id", "user_id"
    )
    if not owner:
        return None
    organisation_id, user_id = owner[0]
    membership = Membership.objects.filter(organisation_id=organisation_id, user_id=user_id)
    member_id = membership.values_list("pk", flat=True).first()
    if member_id is None:
        raise NotAMember("this key's owner is no longer a member of its organisation")
    if not _limited_hold(membership, amount_nanos, now):
        raise MemberBudgetReached("this member's budget is reached")
    return member_id


@transaction.atomic
def _hold_place_orm(
    *, account_id: int, amount_nanos: int, ttl_seconds: int, api_key_id: int | None, generation_id: str
) -> PlacedHold:
    now = timezone.now()
    # Expired holds are the sweep's job (release_expired_holds); they are released here only
    # when they stand in the way of this hold, then the reservation is tried once more.
    if not _account_hold(account_id, amount_nanos) and not (
        _release_expired(account_id, now) and _account_hold(account_id, amount_nanos)
    ):
        raise InsufficientCredits("insufficient credits")
    membership_id = None if api_key_id is None else _key_hold(api_key_id, amount_nanos, now)
    hold = Hold(
        account_id=account_id,
        api_key_id=api_key_id,
        membership_id=membership_id,
        amount_nanos=amount_nanos,
        generation_id=generation_id,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    hold.save(force_insert=True)
    return PlacedHold(id=hold.pk, account_id=account_id, api_key_id=api_key_id, amount_nanos=amount_nanos)


def _hold_place_pg(
    *, account_id: int, amount_nanos: int, ttl_seconds: int, api_key_id: int | None, generation_id: str
) -> PlacedHold:
    """``_hold_place_orm`` as one function call: one round trip, its own transaction in autocommit."""
    with connection.cursor() as cursor:
        cursor.execute(
            db_functions.HOLD_PLACE_CALL,
            [account_id, api_key_id, amount_nanos, ttl_seconds, generation_id, timezone.now()],
        )
        hold_id = cursor.fetchone()[0]
    return hold_placed(hold_id, account_id=account_id, api_key_id=api_key_id, amount_nanos=amount_nanos)


def hold_placed(hold_id: int, *, account_id: int, api_key_id: int | None, amount_nanos: int) -> PlacedHold:
    """``billing_hold_place``'s answer: the new hold, or its refusal code raised as the refusal."""
    if hold_id == db_functions.HOLD_INSUFFICIENT_CREDITS:
        raise InsufficientCredits("insufficient credits")
    if hold_id == db_functions.HOLD_KEY_LIMIT_REACHED:
        raise KeyLimitReached("this key's spend limit is reached")
    if hold_id == db_functions.HOLD_MEMBER_BUDGET_REACHED:
        raise MemberBudgetReached("this member's budget is reached")
    if hold_id == db_functions.HOLD_NOT_A_MEMBER:
        raise NotAMember("this key's owner is no longer a member of its organisation")
    return PlacedHold(id=hold_id, account_id=account_id, api_key_id=api_key_id, amount_nanos=amount_nanos)


@contextmanager
def hold_must_exist(hold_id: int) -> Iterator[None]:
    """``billing_hold_settle`` on a hold that does not exist (no_data_found) raises Hold.DoesNotExist."""
    try:
        yield
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) == "P0002":
            raise Hold.DoesNotExist(f"hold {hold_id} does not exist") from None
        raise


def hold_check(amount_nanos: int) -> None:
    if amount_nanos < 0:
        raise ValueError("a hold cannot be negative")


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
    holds stays within it. Expired holds of the account are released when they are
    what stands in the way.
    """
    hold_check(amount_nanos)
    if connection.vendor == "postgresql":
        return _hold_place_pg(
            account_id=account_id,
            amount_nanos=amount_nanos,
            ttl_seconds=ttl_seconds,
            api_key_id=api_key_id,
            generation_id=generation_id,
        )
    return _hold_place_orm(
        account_id=account_id,
        amount_nanos=amount_nanos,
        ttl_seconds=ttl_seconds,
        api_key_id=api_key_id,
        generation_id=generation_id,
    )


def _room_without_hold(hold: Hold, now: datetime) -> int:
    """What a hold that is no longer open may still be charged: the account's available
    balance and what the key's limit and the member's budget leave (locked in that order)."""
    account = CreditAccount.objects.filter(pk=hold.account_id).values("balance_nanos", "held_nanos").get()
    room = account["balance_nanos"] - account["held_nanos"]
    limits = []
    if hold.api_key_id:
        limits.append(
            ApiKey.objects.select_for_update().filter(pk=hold.api_key_id).values(*LIMIT_FIELDS).first()
        )
    if hold.membership_id:
        limits.append(
            Membership.objects.select_for_update().filter(pk=hold.membership_id).values(*LIMIT_FIELDS).first()
        )
    for limit in limits:
        if limit is not None and limit["limit_nanos"] is not None:
            room = min(room, limit["limit_nanos"] - key_spent(limit, now) - limit["held_nanos"])
    return max(room, 0)


# The columns of a key's limit or a member's budget that ``key_spent`` and their room
# (limit - spent - held) read.
LIMIT_FIELDS = (
    "limit_nanos",
    "limit_reset",
    "usage_nanos",
    "period_usage_nanos",
    "period_start",
    "held_nanos",
)


def key_spent(key: Mapping[str, Any], now: datetime) -> int:
    """What a key (or a member) has spent against its limit (``limit_reset``, ``usage_nanos``,
    ``period_usage_nanos``, ``period_start``): all time, or the current period's (0 when
    the period rolled over since the counter last moved)."""
    start = period_start(key["limit_reset"], now)
    if start is None:
        return key["usage_nanos"]
    if key["period_start"] is None or key["period_start"] < start:
        return 0  # a new period: the counter resets when the next hold is placed
    return key["period_usage_nanos"]


def _shortfall_over_hold(
    hold: Hold, generation_id: str, cost_nanos: int, charged: int, now: datetime
) -> None:
    """Record what the provider reported beyond what could be charged (once per generation)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_shortfall (kind, generation_id, account_id, api_key_id, hold_id,"
            " amount_nanos, detail, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            [
                Shortfall.Kind.OVER_HOLD,
                generation_id,
                hold.account_id,
                hold.api_key_id,
                hold.pk,
                cost_nanos - charged,
                db_functions.shortfall_detail(cost_nanos, hold.amount_nanos, hold.status),
                now,
            ],
        )


def _hold_settle_orm(*, hold_id: int, cost_nanos: int, generation_id: str, memo: str) -> LedgerEntry | None:
    """``hold_settle``'s work inside the caller's transaction (no savepoints of its own)."""
    now = timezone.now()
    hold = _lock_hold(hold_id)
    idempotency_key = f"usage:{generation_id}"
    if hold.status == Hold.Status.SETTLED:
        return LedgerEntry.objects.filter(account_id=hold.account_id, idempotency_key=idempotency_key).first()
    released = hold.amount_nanos if hold.status == Hold.Status.OPEN else 0
    # Never more than was reserved: the hold's amount, or (no longer reserved) what is left.
    charge = min(cost_nanos, hold.amount_nanos if released else _room_without_hold(hold, now))
    Hold.objects.filter(pk=hold_id).update(
        status=Hold.Status.SETTLED, closed_at=now, generation_id=generation_id
    )
    entry, created = None, False
    if charge:
        entry, created = _ledger_insert(
            LedgerEntry(
                account_id=hold.account_id,
                kind=LedgerEntry.Kind.USAGE,
                amount_nanos=-charge,
                idempotency_key=idempotency_key,
                generation_id=generation_id,
                memo=memo[:500],
                created_at=now,
            )
        )
    elif cost_nanos:
        entry = LedgerEntry.objects.filter(
            account_id=hold.account_id, idempotency_key=idempotency_key
        ).first()
    if cost_nanos > charge and (created or entry is None):
        _shortfall_over_hold(hold, generation_id, cost_nanos, charge, now)
    if released:
        CreditAccount.objects.filter(pk=hold.account_id).update(held_nanos=F("held_nanos") - released)
    # The key's counters follow the ledger: no new entry, no new spend.
    charged = charge if created else 0
    counters = {
        "held_nanos": F("held_nanos") - released,
        "usage_nanos": F("usage_nanos") + charged,
        "period_usage_nanos": F("period_usage_nanos") + charged,
    }
    if hold.api_key_id and (released or charged):
        ApiKey.objects.filter(pk=hold.api_key_id).update(**counters)
    if hold.membership_id and (released or charged):
        Membership.objects.filter(pk=hold.membership_id).update(**counters)
    return entry


def settle_check(cost_nanos: int, generation_id: str) -> None:
    if cost_nanos < 0:
        raise ValueError("a cost cannot be negative")
    if not generation_id:
        raise ValueError("a settlement names its generation")


def _hold_settle_pg(
    *, hold_id: int, cost_nanos: int, generation_id: str, memo: str, generation: Any = None
) -> int | None:
    """``_hold_settle_orm`` as one function call; with ``generation``, its INSERT rides in the
    same statement (a data-modifying WITH), so row and charge commit together in one round trip.
    Returns the usage entry's id, if any."""
    call = db_functions.HOLD_SETTLE_CALL
    args = [hold_id, cost_nanos, generation_id, memo, timezone.now()]
    if generation is not None:
        model = type(generation)
        query = InsertQuery(model)
        query.insert_values(model._meta.local_concrete_fields, [generation])
        ((insert_sql, insert_params),) = query.get_compiler(connection=connection).as_sql()
        call, args = f"WITH generation AS ({insert_sql}) {call}", [*insert_params, *args]
    with connection.cursor() as cursor, hold_must_exist(hold_id):
        cursor.execute(call, args)
        return cursor.fetchone()[0]


@transaction.atomic
def hold_settle(*, hold_id: int, cost_nanos: int, generation_id: str, memo: str = "") -> LedgerEntry | None:
    """Charge the actual cost, up to the hold, and release the hold, exactly once.

    The charge never exceeds the hold's amount, so no balance and no key limit goes below
    zero; a cost above it is charged up to the hold and the rest is recorded as an
    ``over_hold`` Shortfall. A hold that already expired (or was released) reserves
    nothing any more: it is charged up to what the balance and the key's limit still allow.
    Idempotent on ``generation_id``: settling again, or settling another hold for
    the same generation, charges nothing more. A zero cost writes no entry.
    """
    settle_check(cost_nanos, generation_id)
    if connection.vendor == "postgresql":
        entry_id = _hold_settle_pg(
            hold_id=hold_id, cost_nanos=cost_nanos, generation_id=generation_id, memo=memo
        )
        return None if entry_id is None else LedgerEntry.objects.get(pk=entry_id)
    return _hold_settle_orm(hold_id=hold_id, cost_nanos=cost_nanos, generation_id=generation_id, memo=memo)


def generation_settle(*, generation: Any, hold_id: int, cost_nanos: int, memo: str = "") -> None:
    """Insert ``generation`` (a gateway Generation, unsaved) and settle its hold, in one transaction.

    The row and the charge commit together or not at all; the charge is idempotent on
    the generation's id, as in ``hold_settle``. On PostgreSQL this is one statement in
    autocommit (no BEGIN/COMMIT round trips); on SQLite, the ORM path in one transaction.
    """
    settle_check(cost_nanos, generation.pk)
    if connection.vendor == "postgresql":
        _hold_settle_pg(
            hold_id=hold_id,
            cost_nanos=cost_nanos,
            generation_id=generation.pk,
            memo=memo,
            generation=generation,
        )
        return
    with transaction.atomic():
        generation.save(force_insert=True)
        _hold_settle_orm(hold_id=hold_id, cost_nanos=cost_nanos, generation_id=generation.pk, memo=memo)


def shortfall_record_unsettled(
    *, generation_id: str, hold_id: int, api_key_id: int | None, amount_nanos: int, detail: str
) -> None:
    """Record a settlement that could not be written, once per generation (``Shortfall``)."""
    account_id = Hold.objects.filter(pk=hold_id).values_list("account_id", flat=True).first()
    Shortfall.objects.get_or_create(
        generation_id=generation_id,
        kind=Shortfall.Kind.UNSETTLED,
        defaults={
            "account_id": account_id,
            "api_key_id": api_key_id,
            "hold_id": hold_id,
            "amount_nanos": amount_nanos,
            "detail": detail,
            "created_at": timezone.now(),
        },
    )


@transaction.atomic
def shortfalls_resolve(*, ids: list[int], actor: Any = None) -> int:
    """Mark shortfalls resolved (an operator settled or wrote them off), each in the audit
    log; returns how many."""
    now = timezone.now()
    open_ones = list(Shortfall.objects.select_for_update().filter(pk__in=ids, resolved_at__isnull=True))
    for shortfall in open_ones:
        record(
            actor=actor,
            action="shortfall.resolve",
            target=shortfall,
            new={
                "kind": shortfall.kind,
                "generation_id": shortfall.generation_id,
                "amount_nanos": shortfall.amount_nanos,
                "account": shortfall.account_id,
            },
        )
    return Shortfall.objects.filter(pk__in=[s.pk for s in open_ones]).update(resolved_at=now)


@transaction.atomic
def hold_release(*, hold_id: int) -> bool:
    """Give an unused hold back (nothing reached the provider). True if it was open."""
    try:
        hold = _lock_hold(hold_id)
    except Hold.DoesNotExist:
        return False
    return _close_locked(hold, Hold.Status.RELEASED, timezone.now())


def holds_release_expired() -> int:
    """Release every open hold past its ttl, one account per transaction; returns how many."""
    now = timezone.now()
    account_ids = (
        Hold.objects.filter(status=Hold.Status.OPEN, expires_at__lt=now)
        .values_list("account_id", flat=True)
        .distinct()
        .order_by("account_id")
    )
    count = 0
    for account_id in list(account_ids):
        with transaction.atomic():
            count += _release_expired(account_id, now)
    return count


# -- redeem codes -------------------------------------------------------------------------------

# No 0/O or 1/I: codes are read aloud and typed from paper.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_GROUPS, _CODE_GROUP_LEN = 5, 5  # 25 symbols of 5 bits = 125 bits


def redeem_code_normalize(raw: str) -> str:
    """The canonical form that is hashed: upper case, separators and spaces dropped."""
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def _new_redeem_code() -> str:
    groups = [
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_GROUP_LEN)) for _ in range(_CODE_GROUPS)
    ]
    return "PG-" + "-".join(groups)


@dataclass(frozen=True)
class RedeemBatch:
    batch: str
    value_nanos: int
    expires_at: datetime | None
    codes: tuple[str, ...]


@transaction.atomic
def redeem_codes_create(
    *,
    count: int,
    value_nanos: int,
    created_by: Any,
    expires_at: datetime | None = None,
    batch: str = "",
) -> RedeemBatch:
    """Create ``count`` single-use codes. The codes are returned once; only hashes are stored."""
    if not 1 <= count <= 10_000:
        raise ValueError("a batch holds 1 to 10000 codes")
    if value_nanos <= 0:
        raise ValueError("a code must be worth a positive amount")
    batch = batch or f"{timezone.now():%Y%m%d}-{secrets.token_hex(3)}"
    codes = tuple(_new_redeem_code() for _ in range(count))
    RedeemCode.objects.bulk_create(
        RedeemCode(
            code_hash=hash_secret(redeem_code_normalize(code)),
            batch=batch,
            value_nanos=value_nanos,
            created_by=created_by,
            expires_at=expires_at,
        )
        for code in codes
    )
    record(
        actor=created_by,
        action="redeem_codes.create",
        target=("billing.redeemcode", batch, f"batch {batch}"),
        new={"count": count, "value_nanos": value_nanos, "expires_at": expires_at},
    )
    return RedeemBatch(batch=batch, value_nanos=value_nanos, expires_at=expires_at, codes=codes)


@transaction.atomic
def redeem_code_redeem(*, account_id: int, code: str, actor: Any = None) -> LedgerEntry:
    """Credit the code's value to the account, once ever, or raise RedeemRefused.

    Single use is one conditional UPDATE: of two concurrent redemptions exactly one
    matches ``redeemed_at IS NULL`` (the other waits for the row lock, then sees
    it set), and the ledger entry is keyed on the code so it cannot be doubled.
    """
    normalized = redeem_code_normalize(code)
    if not normalized:
        raise RedeemRefused("Enter a code.")
    code_hash = hash_secret(normalized)
    now = timezone.now()
    claimed = (
        RedeemCode.objects.filter(code_hash=code_hash, redeemed_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .update(redeemed_at=now, redeemed_by_id=account_id)
    )
    row = (
        RedeemCode.objects.filter(code_hash=code_hash)
        .values("pk", "value_nanos", "batch", "expires_at")
        .first()
    )
    if not claimed:
        if row is None:
            raise RedeemRefused("This code is not valid.")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise RedeemRefused("This code has expired.")
        raise RedeemRefused("This code has already been redeemed.")
    entry, _ = ledger_post(
        account_id=account_id,
        kind=LedgerEntry.Kind.TOPUP,
        amount_nanos=row["value_nanos"],
        idempotency_key=f"redeem:{row['pk']}",
        memo=f"Redeem code ({row['batch']})",
    )
    record(
        actor=actor,
        action="credits.redeem",
        target=CreditAccount.objects.get(pk=account_id),
        new={
            "amount_nanos": row["value_nanos"],
            "code": row["pk"],
            "batch": row["batch"],
            "ledger_entry": entry.pk,
        },
    )
    return entry


# -- Stripe Checkout ----------------------------------------------------------------------------


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


def _stripe_client() -> Any:
    import stripe

    options: dict[str, Any] = {"max_network_retries": 0}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE.rstrip("/")}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **options)


def checkout_amount_check(amount_usd: Decimal) -> int:
    """Validate a top-up amount in USD; return it in cents."""
    low, high = settings.STRIPE_TOPUP_MIN_USD, settings.STRIPE_TOPUP_MAX_USD
    if amount_usd != amount_usd.quantize(Decimal("0.01")):
        raise CheckoutRefused("Enter an amount in whole cents.")
    if not low <= amount_usd <= high:
        raise CheckoutRefused(
            f"Enter an amount between {format_usd(usd_to_nanos(low))} and {format_usd(usd_to_nanos(high))}."
        )
    return int(amount_usd * 100)


def checkout_start(*, account: CreditAccount, amount_usd: Decimal, success_url: str, cancel_url: str) -> str:
    """Open a Stripe Checkout Session for ``amount_usd`` and return its URL.

    The Payment row records what was asked for; the webhook credits exactly that.
    No transaction is held open across the network call. The customer gets the
    session's URL only after its Payment row is saved, so no one can pay for a
    session the webhook would not recognise.
    """
    if not stripe_configured():
        raise CheckoutRefused("Card payments are not configured.")
    cents = checkout_amount_check(amount_usd)
    amount_nanos = cents * (NANOS_PER_USD // 100)
    currency = settings.STRIPE_CURRENCY
    session = _stripe_client().v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": str(account.pk),
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": cents,
                        "product_data": {"name": "PromptGrid credits"},
                    },
                }
            ],
            "metadata": {"account_id": str(account.pk), "amount_nanos": str(amount_nanos)},
        }
    )
    Payment.objects.create(
        account=account,
        stripe_session_id=session.id,
        amount_nanos=amount_nanos,
        amount_cents=cents,
        currency=currency,
    )
    return session.url


_PAID_EVENTS = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
_FAILED_EVENTS = {"checkout.session.expired", "checkout.session.async_payment_failed"}


def stripe_webhook_handle(*, payload: bytes, signature: str | None) -> str:
    """Verify and apply one webhook delivery; return what happened.

    Raises ``ValueError`` or ``stripe.SignatureVerificationError`` for a payload
    that is not a genuine, recent Stripe event (HTTP 400).
    """
    import stripe

    # Verify the signature only: the SDK's construct_event also builds an event object and
    # fails with AttributeError on a signed body that is not a JSON object.
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    stripe.WebhookSignature.verify_header(text, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=300)
    # Read the verified bytes as plain JSON (no SDK objects past this point).
    # Signed is not well-formed: every level is checked so a genuine event of an odd
    # shape is a 400 (or a mismatch below), never a 500.
    event = json.loads(text)
    data = event.get("data") if isinstance(event, dict) else None
    session = data.get("object") if isinstance(data, dict) else None
    event_type = event.get("type") if isinstance(event, dict) else None
    if not isinstance(session, dict) or not isinstance(event_type, str):
        raise ValueError("the event carries no object")
    if event_type in _PAID_EVENTS:
        return payment_confirm(session=session)
    if event_type in _FAILED_EVENTS:
        return payment_fail(session=session)
    return "ignored"


@transaction.atomic
def payment_confirm(*, session: Mapping[str, Any]) -> str:
    """Credit a paid Checkout Session once, if it matches the Payment we opened.

    Idempotent on the session id: the Payment row is locked and re-read, a paid one
    returns early, and the entry's key ``stripe:<session id>`` is unique.
    """
    session_id = str(session.get("id") or "")
    payment = Payment.objects.select_for_update().filter(stripe_session_id=session_id).first()
    if payment is None:
        logger.warning("stripe webhook for an unknown session %s", session_id)
        return "unknown session"
    if payment.status == Payment.Status.PAID:
        return "already credited"
    if session.get("payment_status") != "paid":
        return "not paid"
    metadata = session.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}  # a list or a string cannot name our account: a mismatch below
    if (
        session.get("amount_total") != payment.amount_cents
        or str(session.get("currency") or "").lower() != payment.currency
        or str(metadata.get("account_id")) != str(payment.account_id)
    ):
        logger.error("stripe session %s does not match its payment; not credited", session_id)
        return "mismatch"
    entry, _ = ledger_post(
        account_id=payment.account_id,
        kind=LedgerEntry.Kind.TOPUP,
        amount_nanos=payment.amount_nanos,
        idempotency_key=f"stripe:{session_id}",
        memo=f"Card payment ({format_usd(payment.amount_nanos)})",
    )
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.PAID, credited_at=timezone.now())
    _record_payment(payment, "payment.credit", {"status": Payment.Status.PAID, "ledger_entry": entry.pk})
    return "credited"


def _record_payment(payment: Payment, action: str, new: dict[str, Any]) -> None:
    record(
        actor="stripe",
        action=action,
        target=payment,
        owner=payment.account.user_id,
        organisation_id=getattr(payment.account, "organisation_id", None),
        old={"status": payment.status},
        new={"amount_nanos": payment.amount_nanos, **new},
    )


@transaction.atomic
def payment_fail(*, session: Mapping[str, Any]) -> str:
    payment = (
        Payment.objects.select_for_update()
        .filter(stripe_session_id=str(session.get("id") or ""), status=Payment.Status.PENDING)
        .first()
    )
    if payment is None:
        return "ignored"
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.FAILED)
    _record_payment(payment, "payment.fail", {"status": Payment.Status.FAILED})
    return "failed"
