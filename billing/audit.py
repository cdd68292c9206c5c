"""The ledger audit: every invariant the money rows must satisfy, checked from the database.

Run by ``manage.py audit_ledger`` and at the end of every billing test. Organisation accounts
are accounts like any other; organisation members' budget counters are checked too. On
PostgreSQL it reads one REPEATABLE READ snapshot so a live system is audited at
one instant (a balance and the sum of its entries are never compared across a
concurrent charge).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import CharField, Count, Exists, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from accounts.models import ApiKey
from accounts.organisations.models import Membership
from billing.models import CreditAccount, Hold, LedgerEntry, Payment, RedeemCode, Shortfall


@dataclass(frozen=True)
class Violation:
    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.detail}"


def ledger_audit() -> list[Violation]:
    # Inside a caller's transaction (tests) the snapshot is the caller's to choose.
    fresh = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and fresh:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _checks()


def open_shortfalls() -> list[Shortfall]:
    """Usage not charged in full and not yet resolved, oldest first (``billing.models.Shortfall``).

    Listed by the audit for the operator; ``over_hold`` ones are not violations (the ledger
    is whole, the operator was paid less), ``unsettled`` ones are (``_checks``)."""
    return list(Shortfall.objects.filter(resolved_at__isnull=True).order_by("created_at", "pk"))


def _checks() -> list[Violation]:
    found: list[Violation] = []
    now = timezone.now()

    entries_sum = (
        LedgerEntry.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(s=Sum("amount_nanos"))
        .values("s")
    )
    holds_sum = (
        Hold.objects.filter(account=OuterRef("pk"), status=Hold.Status.OPEN)
        .order_by()
        .values("account")
        .annotate(s=Sum("amount_nanos"))
        .values("s")
    )
    accounts = CreditAccount.objects.annotate(
        ledger_sum=Coalesce(Subquery(entries_sum), Value(0)),
        open_holds=Coalesce(Subquery(holds_sum), Value(0)),
    ).values("pk", "balance_nanos", "held_nanos", "ledger_sum", "open_holds")
    for row in accounts.iterator():
        subject = f"account {row['pk']}"
        if row["balance_nanos"] != row["ledger_sum"]:
            found.append(
                Violation("balance", subject, f"{row['balance_nanos']} != sum of entries {row['ledger_sum']}")
            )
        if row["held_nanos"] != row["open_holds"]:
            found.append(
                Violation(
                    "held", subject, f"held {row['held_nanos']} != sum of open holds {row['open_holds']}"
                )
            )
        if row["balance_nanos"] - row["held_nanos"] < 0:
            found.append(
                Violation(
                    "available",
                    subject,
                    f"available balance is negative ({row['balance_nanos']} - {row['held_nanos']})",
                )
            )

    key_holds = (
        Hold.objects.filter(api_key=OuterRef("pk"), status=Hold.Status.OPEN)
        .order_by()
        .values("api_key")
        .annotate(s=Sum("amount_nanos"))
        .values("s")
    )
    keys = (
        ApiKey.objects.annotate(open_holds=Coalesce(Subquery(key_holds), Value(0)))
        .values("pk", "held_nanos", "open_holds")
        .order_by("pk")
    )
    for row in keys.iterator():
        if row["held_nanos"] != row["open_holds"]:
            found.append(
                Violation(
                    "key held",
                    f"api key {row['pk']}",
                    f"held {row['held_nanos']} != sum of its open holds {row['open_holds']}",
                )
            )

    found += _member_checks()

    from billing.models import Generation

    orphans = (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE)
        .exclude(generation_id__in=Generation.objects.values("pk"))
        .values_list("pk", "generation_id")
    )
    for pk, generation_id in orphans.iterator():
        found.append(
            Violation(
                "usage without generation",
                f"entry {pk}",
                f"generation {generation_id or '(none)'!r} not found",
            )
        )

    doubles = (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE)
        .order_by()
        .values("generation_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    for row in doubles:
        found.append(
            Violation("charged twice", f"generation {row['generation_id']}", f"{row['n']} usage entries")
        )

    expired = Hold.objects.filter(status=Hold.Status.OPEN, expires_at__lt=now).values_list("pk", "expires_at")
    for pk, expires_at in expired.iterator():
        found.append(Violation("expired hold open", f"hold {pk}", f"expired at {expires_at.isoformat()}"))

    credited = LedgerEntry.objects.filter(
        account=OuterRef("account"), idempotency_key=Concat(Value("stripe:"), OuterRef("stripe_session_id"))
    )
    uncredited = (
        Payment.objects.filter(status=Payment.Status.PAID)
        .annotate(credited=Exists(credited))
        .filter(credited=False)
        .values_list("pk", "stripe_session_id")
    )
    for pk, session_id in uncredited.iterator():
        found.append(Violation("payment not credited", f"payment {pk}", f"no entry for session {session_id}"))

    redeem_entry = LedgerEntry.objects.filter(
        account=OuterRef("redeemed_by"),
        idempotency_key=Concat(Value("redeem:"), Cast(OuterRef("pk"), output_field=CharField())),
    )
    unredeemed = (
        RedeemCode.objects.filter(redeemed_at__isnull=False)
        .annotate(credited=Exists(redeem_entry))
        .filter(credited=False)
        .values_list("pk", flat=True)
    )
    for pk in unredeemed.iterator():
        found.append(Violation("code not credited", f"redeem code {pk}", "redeemed without its entry"))

    unsettled = Shortfall.objects.filter(kind=Shortfall.Kind.UNSETTLED, resolved_at__isnull=True)
    for pk, generation_id, amount in unsettled.values_list("pk", "generation_id", "amount_nanos").iterator():
        found.append(
            Violation(
                "settlement failed",
                f"generation {generation_id}",
                f"{amount} nanos not charged (shortfall {pk})",
            )
        )
    return found


def _member_checks() -> list[Violation]:
    """Organisation members' budget counters against the holds and charges they count.

    A member's open holds are the holds placed against their budget; their spend is the
    usage charged for the holds of theirs that settled, to the nano.
    """
    found: list[Violation] = []
    member_holds = (
        Hold.objects.filter(membership=OuterRef("pk"), status=Hold.Status.OPEN)
        .order_by()
        .values("membership")
        .annotate(s=Sum("amount_nanos"))
        .values("s")
    )
    settled = Hold.objects.filter(membership=OuterRef(OuterRef("pk")), status=Hold.Status.SETTLED)
    charged = (
        LedgerEntry.objects.filter(
            kind=LedgerEntry.Kind.USAGE, generation_id__in=settled.values("generation_id")
        )
        .order_by()
        .annotate(group=Value(1))
        .values("group")
        .annotate(s=Sum("amount_nanos"))
        .values("s")
    )
    members = (
        Membership.objects.annotate(
            open_holds=Coalesce(Subquery(member_holds), Value(0)),
            charged=Coalesce(Subquery(charged), Value(0)),
        )
        .values("pk", "held_nanos", "usage_nanos", "open_holds", "charged")
        .order_by("pk")
    )
    for row in members.iterator():
        subject = f"membership {row['pk']}"
        if row["held_nanos"] != row["open_holds"]:
            found.append(
                Violation(
                    "member held",
                    subject,
                    f"held {row['held_nanos']} != sum of its open holds {row['open_holds']}",
                )
            )
        if row["usage_nanos"] != -row["charged"]:
            found.append(
                Violation(
                    "member spend",
                    subject,
                    f"spend {row['usage_nanos']} != charged to its holds {-row['charged']}",
                )
            )
    return found
