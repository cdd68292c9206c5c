from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from billing.services import holds_release_expired


class Command(BaseCommand):
    help = "Release open holds past their ttl (run every minute or so, e.g. from cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = holds_release_expired()
        self.stdout.write(f"Released {count} expired hold(s).")
