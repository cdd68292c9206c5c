"""Reads of the catalog that are not on the hot path (that one is ``catalog.snapshot``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from catalog.models import Endpoint, Provider
from catalog.pricelist import PriceEntry

# Catalog provider slug → LiteLLM ``litellm_provider``; other providers match by their own slug.
SOURCE_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "google": "gemini"}


@dataclass
class EndpointChange:
    endpoint_id: int
    label: str
    source_key: str
    # (Endpoint field, old value, new value), in a stable order.
    changes: list[tuple[str, Decimal | int, Decimal | int]] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{name} {old} → {new}" for name, old, new in self.changes]
        return f"{self.label}: {'; '.join(parts)}"


def _entry_for(endpoint: Endpoint, entries: dict[str, PriceEntry]) -> PriceEntry | None:
    source_provider = SOURCE_PROVIDER.get(endpoint.provider.slug, endpoint.provider.slug)
    for key in (endpoint.upstream_model, f"{source_provider}/{endpoint.upstream_model}"):
        entry = entries.get(key)
        if entry is not None and entry.provider == source_provider:
            return entry
    return None


def price_changes(entries: dict[str, PriceEntry]) -> list[EndpointChange]:
    """What a price list would change: prices and limits of endpoints it names.

    An endpoint matches an entry by its upstream model name (with or without the
    list's ``<provider>/`` prefix) and its provider. Prices the list leaves out
    are kept as they are. Limits are compared with the endpoint's effective
    value (its own, else its model's) and written as the endpoint's override.
    """
    result = []
    endpoints = (
        Endpoint.objects.exclude(provider__protocol=Provider.Protocol.MOCK)
        .select_related("provider", "model")
        .order_by("model__slug", "priority", "id")
    )
    for endpoint in endpoints:
        entry = _entry_for(endpoint, entries)
        if entry is None:
            continue
        change = EndpointChange(
            endpoint_id=endpoint.pk,
            label=f"{endpoint.model.slug} via {endpoint.provider.slug} ({endpoint.upstream_model})",
            source_key=entry.key,
        )
        for name, new in entry.prices.items():
            old = getattr(endpoint, name)
            if old != new:
                change.changes.append((name, old.normalize(), new.normalize()))
        limits = (
            (
                "context_length",
                entry.context_length,
                endpoint.context_length or endpoint.model.context_length,
            ),
            (
                "max_output_tokens",
                entry.max_output_tokens,
                endpoint.max_output_tokens or endpoint.model.max_output_tokens,
            ),
        )
        for name, new, old in limits:
            if new is not None and new != old:
                change.changes.append((name, old, new))
        if change.changes:
            result.append(change)
    return result
