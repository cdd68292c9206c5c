"""An in-process, read-only snapshot of the enabled catalog.

The hot path resolves model slugs here instead of querying the database. A
snapshot lives ``CATALOG_CACHE_SECONDS`` and is rebuilt sooner when the shared
catalog version (bumped on every save in admin, through the cache, which is Redis
across processes when configured) changes, so a price edit applies to the next
request on every process.

An endpoint is routable only when its provider can be called: the offline
``mock`` protocol always, any other provider only with an API key (from its
record or from the environment, ``settings.PROVIDER_ENV``). Models whose
endpoints all lack a key are still listed (``ModelInfo.listing``) so the
catalog and its prices can be browsed before any provider is configured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache

from catalog.targets import Target

VERSION_KEY = "catalog:version"


@dataclass(frozen=True)
class EndpointInfo:
    target: Target
    priority: int
    input_price: Decimal
    output_price: Decimal
    cache_read_price: Decimal
    cache_write_price: Decimal
    request_price: Decimal
    context_length: int


@dataclass(frozen=True)
class ModelInfo:
    id: int
    slug: str
    name: str
    context_length: int
    max_output_tokens: int
    supported_parameters: tuple[str, ...]
    endpoints: tuple[EndpointInfo, ...]  # routable: enabled, on enabled providers with a key, by priority
    description: str = ""
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    created: int = 0  # unix time the model was added to the catalog
    # The endpoint that prices and limits the model in listings: the first routable
    # one, else the first enabled one even if its provider has no key yet.
    listing: EndpointInfo | None = None
    aliases: tuple[str, ...] = ()  # other names that reach it (aliases and dated snapshots)


@dataclass(frozen=True)
class NameEntry:
    """What a typed model name means: one model, several (ambiguous), or a retired name."""

    slugs: tuple[str, ...]
    retired: bool = False


@dataclass
class CatalogSnapshot:
    models: dict[str, ModelInfo]
    version: Any
    built_at: float
    extra: dict[str, Any] = field(default_factory=dict)  # memoised derived payloads
    # Names other than exact catalog ids, as typed and folded to lower case (see names_index).
    names: dict[str, NameEntry] = field(default_factory=dict)
    folded: dict[str, NameEntry] = field(default_factory=dict)

    def lookup(self, name: str) -> NameEntry | None:
        """O(1): an exact catalog id, else an alias, bare upstream name or dated id, else the
        same ignoring case."""
        if name in self.models:
            return NameEntry((name,))
        return self.names.get(name) or self.folded.get(name.lower())


_snapshot: CatalogSnapshot | None = None


def bump_version() -> None:
    """Tell every process the catalog changed (call after any catalog write)."""
    cache.set(VERSION_KEY, time.time_ns(), timeout=None)


def publish_change() -> None:
    """Drop this process's snapshot and tell the others (call once the write is committed)."""
    invalidate_local()
    bump_version()


def _provider_settings(provider: Any) -> tuple[str, str]:
    override = settings.PROVIDER_ENV.get(provider.slug, {})
    base_url = override.get("base_url") or provider.base_url
    api_key = override.get("api_key") or provider.api_key
    return base_url, api_key


def _seconds(per_provider: float | None, default: Any) -> float:
    """A provider's own timeout when set, else the gateway-wide setting."""
    return float(per_provider) if per_provider else float(default)


def _routable(protocol: str, api_key: str) -> bool:
    return protocol == "mock" or bool(api_key)


def names_index(
    slugs: list[str], bare: dict[str, set[str]], aliases: list[tuple[str, str, str]]
) -> tuple[dict[str, NameEntry], dict[str, NameEntry]]:
    """Exact and case-folded name tables. Later kinds overwrite earlier ones, so the
    order of precedence is: catalog id, alias, bare upstream name, dated snapshot, retired."""
    layers: list[list[tuple[str, NameEntry]]] = [
        [(name, NameEntry((slug,), retired=True)) for name, slug, kind in aliases if kind == "retired"],
        [(name, NameEntry((slug,))) for name, slug, kind in aliases if kind == "snapshot"],
        [(name, NameEntry(tuple(sorted(owners)))) for name, owners in bare.items()],
        [(name, NameEntry((slug,))) for name, slug, kind in aliases if kind == "alias"],
        [(slug, NameEntry((slug,))) for slug in slugs],
    ]
    exact: dict[str, NameEntry] = {}
    folded: dict[str, NameEntry] = {}
    for layer in layers:
        folded_layer: dict[str, NameEntry] = {}
        for name, entry in layer:
            exact[name] = entry
            prior = folded_layer.get(name.lower())
            if prior is not None and prior.slugs != entry.slugs:
                # Two names of one kind differing only in case: ambiguous when folded.
                entry = NameEntry(tuple(sorted({*prior.slugs, *entry.slugs})), entry.retired)
            folded_layer[name.lower()] = entry
        folded.update(folded_layer)
    for slug in slugs:
        exact.pop(slug, None)  # served from ``models`` directly
    return exact, folded


def build_snapshot(version: Any = None) -> CatalogSnapshot:
    from catalog.models import Endpoint, Model, ModelAlias

    models: dict[str, ModelInfo] = {}
    endpoints_by_model: dict[int, list[EndpointInfo]] = {}
    listing_by_model: dict[int, EndpointInfo] = {}
    bare: dict[str, set[str]] = {}
    rows = (
        Endpoint.objects.filter(enabled=True, provider__enabled=True, model__enabled=True)
        .select_related("provider", "model")
        .order_by("priority", "id")
    )
    for ep in rows:
        base_url, api_key = _provider_settings(ep.provider)
        model = ep.model
        target = Target(
            endpoint_id=ep.id,
            model_slug=model.slug,
            provider_slug=ep.provider.slug,
            provider_name=ep.provider.name,
            protocol=ep.provider.protocol,
            base_url=base_url,
            api_key=api_key,
            upstream_model=ep.upstream_model,
            max_output_tokens=ep.max_output_tokens or model.max_output_tokens,
            connect_timeout=_seconds(ep.provider.connect_timeout, settings.UPSTREAM_CONNECT_TIMEOUT),
            first_byte_timeout=_seconds(ep.provider.first_byte_timeout, settings.UPSTREAM_FIRST_BYTE_TIMEOUT),
            idle_timeout=_seconds(ep.provider.idle_timeout, settings.UPSTREAM_IDLE_TIMEOUT),
            allowed_betas=ep.provider.betas,
            responses_api=ep.provider.responses_api,
        )
        info = EndpointInfo(
            target=target,
            priority=ep.priority,
            input_price=ep.input_price,
            output_price=ep.output_price,
            cache_read_price=ep.cache_read_price,
            cache_write_price=ep.cache_write_price,
            request_price=ep.request_price,
            context_length=ep.context_length or model.context_length,
        )
        listing_by_model.setdefault(model.id, info)
        # A bare name reaches a model through its upstream name or its id without the author.
        for bare_name in (ep.upstream_model, model.slug.split("/", 1)[-1]):
            bare.setdefault(bare_name, set()).add(model.slug)
        if _routable(ep.provider.protocol, api_key):
            endpoints_by_model.setdefault(model.id, []).append(info)
    alias_rows = list(
        ModelAlias.objects.filter(model__enabled=True).values_list("name", "model__slug", "kind")
    )
    shown: dict[str, list[str]] = {}
    for name, slug, kind in alias_rows:
        if kind != ModelAlias.Kind.RETIRED:
            shown.setdefault(slug, []).append(name)
    for model in Model.objects.filter(enabled=True).order_by("slug"):
        routable = tuple(endpoints_by_model.get(model.id, ()))
        models[model.slug] = ModelInfo(
            id=model.id,
            slug=model.slug,
            name=model.name,
            context_length=model.context_length,
            max_output_tokens=model.max_output_tokens,
            supported_parameters=tuple(model.supported_parameters or ()),
            endpoints=routable,
            description=model.description,
            input_modalities=tuple(model.input_modalities or ("text",)),
            output_modalities=tuple(model.output_modalities or ("text",)),
            created=int(model.created_at.timestamp()),
            listing=routable[0] if routable else listing_by_model.get(model.id),
            aliases=tuple(sorted(shown.get(model.slug, ()))),
        )
    bare = {name: owners & models.keys() for name, owners in bare.items()}
    exact, folded = names_index(list(models), {n: o for n, o in bare.items() if o}, alias_rows)
    return CatalogSnapshot(
        models=models, version=version, built_at=time.monotonic(), names=exact, folded=folded
    )


def get_snapshot() -> CatalogSnapshot:
    """Return the current snapshot (sync; may query the database and the cache)."""
    global _snapshot
    snap = _snapshot
    now = time.monotonic()
    ttl = settings.CATALOG_CACHE_SECONDS
    if snap is not None and now - snap.built_at < ttl:
        return snap
    version = cache.get(VERSION_KEY)
    if version is None:
        # No edit since the cache started: agree on a first version (add() keeps any a
        # concurrent writer set), so an unchanged catalog is not rebuilt every period.
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY)
    if snap is not None and ttl > 0 and version is not None and version == snap.version:
        snap.built_at = now  # unchanged: trust it for another period
        return snap
    _snapshot = build_snapshot(version)
    return _snapshot


def invalidate_local() -> None:
    global _snapshot
    _snapshot = None
