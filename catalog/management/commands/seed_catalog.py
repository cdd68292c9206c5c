from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from catalog.services import catalog_seed


class Command(BaseCommand):
    help = (
        "Create the shipped providers (openai, anthropic, google, mock), models and endpoints that "
        "are missing, from catalog/data/models.json. Safe to run again: existing rows keep their "
        "admin edits unless --reset-prices or --refresh-models is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset-prices",
            action="store_true",
            help="Put the data file's prices back on the seeded endpoints (overwrites admin edits).",
        )
        parser.add_argument(
            "--refresh-models",
            action="store_true",
            help="Rewrite existing models' names, descriptions, limits, modalities and parameters.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = catalog_seed(reset_prices=options["reset_prices"], refresh_models=options["refresh_models"])
        self.stdout.write(self.style.SUCCESS(f"Catalog seeded ({report})."))
