"""Reads of money for pages and the API."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from billing.models import CreditAccount, LedgerEntry


@dataclass(frozen=True)
class Totals:
    """``credits - usage == balance``: credits are every non-usage entry, signed."""

    credits_nanos: int
    usage_nanos: int


def ledger_for_account(*, account: CreditAccount) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(account=account).order_by("-created_at", "-id")


def account_totals(*, account_id: int) -> Totals:
    sums = LedgerEntry.objects.filter(account_id=account_id).aggregate(
        credits=Coalesce(Sum("amount_nanos", filter=~Q(kind=LedgerEntry.Kind.USAGE)), 0),
        usage=Coalesce(Sum("amount_nanos", filter=Q(kind=LedgerEntry.Kind.USAGE)), 0),
    )
    return Totals(credits_nanos=sums["credits"], usage_nanos=-sums["usage"])
