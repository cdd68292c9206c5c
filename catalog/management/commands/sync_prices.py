from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.pricelist import PriceListError, load_price_list
from catalog.selectors import price_changes
from catalog.services import endpoint_prices_apply


class Command(BaseCommand):
    help = (
        "Update prices and limits of catalog endpoints from a price list in LiteLLM's "
        "model_prices.json format (a file path or an http(s) URL). Endpoints match by provider and "
        "upstream model name. A malformed list changes nothing and exits non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", metavar="PATH_OR_URL", help="model_prices.json file or http(s) URL")
        parser.add_argument("--dry-run", action="store_true", help="Print what would change; save nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            entries = load_price_list(options["source"])
        except PriceListError as exc:
            raise CommandError(f"price list rejected, nothing changed: {exc}") from exc
        changes = price_changes(entries)
        if not changes:
            self.stdout.write("no changes")
            return
        for change in changes:
            self.stdout.write(change.describe())
        if options["dry_run"]:
            self.stdout.write(f"dry run: {len(changes)} endpoint(s) would change; nothing saved")
            return
        count = endpoint_prices_apply(changes=changes)
        self.stdout.write(self.style.SUCCESS(f"{count} endpoint(s) updated"))
