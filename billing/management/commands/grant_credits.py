from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from billing.services import account_for_user, credits_grant
from promptgrid.money import format_usd, usd_to_nanos


class Command(BaseCommand):
    help = "Grant credits (USD) to the user with this email; recorded as a grant in the ledger."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--amount", required=True, help="USD, e.g. 10 or 2.50")
        parser.add_argument("--memo", default="Granted from the command line")

    def handle(self, *args: Any, email: str, amount: str, memo: str, **options: Any) -> None:
        try:
            usd = Decimal(amount)
        except InvalidOperation as exc:
            raise CommandError(f"--amount {amount!r} is not a number of USD") from exc
        if not usd.is_finite() or usd <= 0:
            raise CommandError("--amount must be a positive number of USD")
        nanos = usd_to_nanos(usd)
        if nanos <= 0:
            raise CommandError("--amount is smaller than one nano-dollar")
        user = get_user_model().objects.filter(email__iexact=email.strip()).order_by("pk").first()
        if user is None:
            raise CommandError(f"no user with email {email!r}")
        account = account_for_user(user=user)
        credits_grant(account=account, amount_nanos=nanos, memo=memo)
        account.refresh_from_db()
        balance = format_usd(account.balance_nanos)
        self.stdout.write(f"Granted {format_usd(nanos)} to {user.email}; balance is now {balance}.")
