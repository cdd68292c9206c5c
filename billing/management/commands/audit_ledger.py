from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing.audit import ledger_audit, open_shortfalls
from billing.models import CreditAccount, LedgerEntry


class Command(BaseCommand):
    help = "Check every money invariant; print a report and exit non-zero on any violation."

    def handle(self, *args: Any, **options: Any) -> None:
        violations = ledger_audit()
        accounts = CreditAccount.objects.count()
        entries = LedgerEntry.objects.count()
        self.stdout.write(f"Audited {accounts} accounts and {entries} ledger entries.")
        for shortfall in open_shortfalls():
            self.stdout.write(
                self.style.WARNING(
                    f"SHORTFALL {shortfall.kind}: generation {shortfall.generation_id}: "
                    f"{shortfall.amount_nanos} nanos not charged (account {shortfall.account_id}, "
                    f"shortfall {shortfall.pk}) {shortfall.detail}"
                )
            )
        if not violations:
            self.stdout.write(self.style.SUCCESS("OK: no violations."))
            return
        for violation in violations:
            self.stdout.write(self.style.ERROR(f"VIOLATION {violation}"))
        raise CommandError(f"{len(violations)} violation(s) found.", returncode=1)
