"""Writes to the catalog: seeding from the shipped data file and price syncs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog.models import Endpoint, Model, ModelAlias, Provider
from catalog.selectors import EndpointChange
from catalog.snapshot import publish_change

DATA_FILE = Path(__file__).resolve().parent / "data" / "models.json"
NAMES_FILE = DATA_FILE.with_name("names.json")
_NAME_KINDS = {"aliases": "alias", "snapshots": "snapshot", "retired": "retired"}

_PRICE_KEYS = {
    "input": "input_price",
    "output": "output_price",
    "cache_read": "cache_read_price",
    "cache_write": "cache_write_price",
    "request": "request_price",
}
_MODEL_FIELDS = (
    "name",
    "description",
    "context_length",
    "max_output_tokens",
    "input_modalities",
    "output_modalities",
    "supported_parameters",
)


@dataclass
class SeedReport:
    providers_created: int = 0
    models_created: int = 0
    models_refreshed: int = 0
    endpoints_created: int = 0
    endpoints_repriced: int = 0
    aliases_created: int = 0

    def __str__(self) -> str:
        return (
            f"providers created: {self.providers_created}, models created: {self.models_created}, "
            f"models refreshed: {self.models_refreshed}, endpoints created: {self.endpoints_created}, "
            f"endpoints repriced: {self.endpoints_repriced}, aliases created: {self.aliases_created}"
        )


def catalog_data(path: Path = DATA_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _model_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item["name"],
        "description": item.get("description", ""),
        "context_length": item["context_length"],
        "max_output_tokens": item["max_output_tokens"],
        "input_modalities": list(item.get("input_modalities") or ["text"]),
        "output_modalities": list(item.get("output_modalities") or ["text"]),
        "supported_parameters": list(item.get("supported_parameters") or []),
    }


def _prices(item: dict[str, Any]) -> dict[str, Decimal]:
    return {field: Decimal(item["prices"].get(key, "0")) for key, field in _PRICE_KEYS.items()}


@transaction.atomic
def catalog_seed(
    *,
    data: dict[str, Any] | None = None,
    names: dict[str, Any] | None = None,
    reset_prices: bool = False,
    refresh_models: bool = False,
) -> SeedReport:
    """Create the shipped providers, models and endpoints that are missing.

    Idempotent: rows that exist are left as an operator may have edited them
    (names, keys, base URLs, enabled flags, prices), unless ``reset_prices``
    puts the data file's prices back on the seeded endpoints or
    ``refresh_models`` rewrites the models' descriptive fields and limits. A
    model that already has an endpoint on the seeded provider gets no second
    one, even if its upstream name was changed in admin.
    """
    data = data if data is not None else catalog_data()
    report = SeedReport()
    providers: dict[str, Provider] = {}
    for item in data["providers"]:
        provider, created = Provider.objects.get_or_create(
            slug=item["slug"],
            defaults={
                "name": item["name"],
                "protocol": item["protocol"],
                "base_url": item.get("base_url", ""),
            },
        )
        providers[provider.slug] = provider
        report.providers_created += created

    for item in data["models"]:
        fields = _model_fields(item)
        model, created = Model.objects.get_or_create(slug=item["id"], defaults=fields)
        report.models_created += created
        if not created and refresh_models:
            stale = [name for name in _MODEL_FIELDS if getattr(model, name) != fields[name]]
            if stale:
                for name in stale:
                    setattr(model, name, fields[name])
                model.save(update_fields=[*stale, "updated_at"])
                report.models_refreshed += 1

        provider = providers[item["provider"]]
        prices = _prices(item)
        endpoint = model.endpoints.filter(provider=provider).order_by("priority", "id").first()
        if endpoint is None:
            Endpoint.objects.create(
                model=model, provider=provider, upstream_model=item["upstream_model"], **prices
            )
            report.endpoints_created += 1
        elif reset_prices:
            stale = [name for name, value in prices.items() if getattr(endpoint, name) != value]
            if stale:
                for name in stale:
                    setattr(endpoint, name, prices[name])
                endpoint.save(update_fields=[*stale, "updated_at"])
                report.endpoints_repriced += 1
    report.aliases_created = _seed_names(names if names is not None else catalog_data(NAMES_FILE))
    return report


def _seed_names(names: dict[str, Any]) -> int:
    """Create the shipped aliases that are missing (an operator's edits and deletions of
    existing ones are kept; names of models not in the catalog are skipped)."""
    slugs = {slug for group in _NAME_KINDS for slug in names.get(group, {}).values()}
    models = {m.slug: m for m in Model.objects.filter(slug__in=slugs)}
    taken = {n.lower() for n in ModelAlias.objects.values_list("name", flat=True)}
    created = 0
    for group, kind in _NAME_KINDS.items():
        for name, slug in names.get(group, {}).items():
            if slug in models and name.lower() not in taken:
                ModelAlias.objects.create(name=name, model=models[slug], kind=kind)
                taken.add(name.lower())
                created += 1
    return created


@transaction.atomic
def endpoint_prices_apply(*, changes: list[EndpointChange]) -> int:
    """Write computed price/limit changes in one transaction; returns endpoints updated."""
    now = timezone.now()
    for change in changes:
        Endpoint.objects.filter(pk=change.endpoint_id).update(
            updated_at=now, **{name: new for name, _old, new in change.changes}
        )
    if changes:
        # QuerySet.update sends no signals: publish the new catalog version ourselves.
        transaction.on_commit(publish_change)
    return len(changes)
