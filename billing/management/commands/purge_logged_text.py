"""Delete stored prompt and completion text older than each user's retention period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from accounts.models import UserSettings
from billing.models import Generation

DEFAULT_RETENTION_DAYS = UserSettings._meta.get_field("log_retention_days").default


class Command(BaseCommand):
    help = (
        "Delete stored prompt/completion text of generations older than their owner's "
        f"log retention (users without settings: {DEFAULT_RETENTION_DAYS} days). Numbers and costs are kept. "
        "Run it daily (cron or a scheduler)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; change nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        now = timezone.now()
        has_text = Q(prompt_text__isnull=False) | Q(completion_text__isnull=False)
        by_days: dict[int, list[int]] = {}
        for user_id, days in UserSettings.objects.values_list("user_id", "log_retention_days"):
            by_days.setdefault(days, []).append(user_id)
        total = 0
        for days, user_ids in sorted(by_days.items()):
            total += self._purge(
                Generation.objects.filter(
                    has_text, user_id__in=user_ids, created_at__lt=now - timedelta(days=days)
                ),
                dry_run,
            )
        # Users who never saved settings get the default retention.
        with_settings = UserSettings.objects.values("user_id")
        defaults = get_user_model().objects.exclude(pk__in=with_settings).values("pk")
        total += self._purge(
            Generation.objects.filter(
                has_text, user_id__in=defaults, created_at__lt=now - timedelta(days=DEFAULT_RETENTION_DAYS)
            ),
            dry_run,
        )
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} stored text of {total} generation(s).")

    @staticmethod
    def _purge(qs: Any, dry_run: bool) -> int:
        if dry_run:
            return qs.count()
        # None stores SQL NULL: "not logged", the same as text that was never kept.
        return qs.update(prompt_text=None, completion_text=None)
