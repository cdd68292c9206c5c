"""Resolve a request's model (or ``models`` list) to the ordered endpoints to try.

The catalog snapshot is in process memory; it is refreshed through one thread hop
only when it may be stale, so a warm process resolves a model without any I/O.
Fallbacks over several endpoints belong to the routing work that follows; the
list is already ordered (request's models in order, then endpoint priority).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from accounts.keyauth import KeyInfo
from catalog import snapshot as catalog_snapshot
from catalog.snapshot import CatalogSnapshot, EndpointInfo, ModelInfo
from gateway.routing import observed
from gateway.surfaces.chat.request import ChatRequest
from promptgrid.db import db_call

# OpenRouter's model variants this gateway serves (``openai/gpt-4o:nitro``).
VARIANTS = ("nitro", "floor", "thinking")


class RouteError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class Route:
    model: ModelInfo
    endpoint: EndpointInfo


async def current_snapshot() -> CatalogSnapshot:
    """The snapshot without leaving the event loop while it is fresh; else rebuilt in a thread."""
    snap = catalog_snapshot._snapshot
    if snap is not None and time.monotonic() - snap.built_at < settings.CATALOG_CACHE_SECONDS:
        return snap
    return await db_call(catalog_snapshot.get_snapshot)


def _shown(name: str, limit: int = 100) -> str:
    """A client's model name as echoed back: a megabyte-long name is cut, not repeated."""
    return name if len(name) <= limit else f"{name[:limit]}… ({len(name)} characters)"


def _allowed(key: KeyInfo, slug: str) -> bool:
    return key.allows(slug)


def _model_named(snapshot: CatalogSnapshot, name: str) -> tuple[ModelInfo | None, str]:
    """The model a typed name means, and its variant suffix ("" when none)."""
    variant = ""
    entry = snapshot.lookup(name)
    if entry is None and ":" in name:
        base, variant = name.rsplit(":", 1)
        entry = snapshot.lookup(base)
        if entry is not None and variant.lower() not in VARIANTS:
            raise RouteError(
                400,
                f"Unknown model variant ':{_shown(variant)}' in {_shown(name)}; supported: "
                + ", ".join(f":{v}" for v in VARIANTS)
                + ".",
                param="model",
                code="invalid_model_variant",
            )
        variant = variant.lower()
    if entry is None:
        return None, ""
    if entry.retired:
        raise RouteError(
            404,
            f"{name} has been retired; the closest current model is {entry.slugs[0]}.",
            param="model",
            code="model_retired",
        )
    if len(entry.slugs) > 1:
        raise RouteError(
            400,
            f"{name} is ambiguous: it names {', '.join(entry.slugs)}. Use one of these ids.",
            param="model",
            code="ambiguous_model",
        )
    return snapshot.models[entry.slugs[0]], variant


def _throughput(route: Route) -> tuple[bool, float]:
    figures = observed.figures(route.endpoint.target.endpoint_id)
    return (figures.throughput is None, -(figures.throughput or 0.0))


def _price(route: Route) -> tuple[object, ...]:
    endpoint = route.endpoint
    return (endpoint.input_price + endpoint.output_price, endpoint.request_price)


def _with_variant(routes: list[Route], variant: str, request: ChatRequest) -> list[Route]:
    """``:nitro`` fastest observed first, ``:floor`` cheapest first (stable: priority breaks
    ties); ``:thinking`` asks for reasoning when the model takes it and the request did not say."""
    if variant == "nitro":
        return sorted(routes, key=_throughput)
    if variant == "floor":
        return sorted(routes, key=_price)
    if variant == "thinking" and routes:
        params = routes[0].model.supported_parameters
        if ("reasoning" in params or "reasoning_effort" in params) and not (
            "reasoning" in request.params or "reasoning_effort" in request.params
        ):
            request.params["reasoning"] = {"enabled": True}
    return routes


def resolve(snapshot: CatalogSnapshot, request: ChatRequest, key: KeyInfo) -> list[Route]:
    """Endpoints to try, in order; raises RouteError (400, 403, 404, 503) when there are none.

    Names resolve as people type them (``snapshot.lookup``): bare upstream names, aliases,
    dated snapshot ids, any case, with an OpenRouter variant suffix.
    """
    if key.is_management:
        raise RouteError(403, "Management keys cannot call models; use a standard API key.", code="forbidden")
    names = request.models or [request.model]
    if request.model not in names:
        names = [request.model, *names]
    routes: list[Route] = []
    forbidden: list[str] = []
    known = False
    seen: set[str] = set()
    for name in names:
        model, variant = _model_named(snapshot, name)
        if model is None or model.slug in seen:
            continue
        seen.add(model.slug)
        known = True
        if not _allowed(key, model.slug):
            forbidden.append(model.slug)
            continue
        group = [Route(model=model, endpoint=endpoint) for endpoint in model.endpoints]
        routes.extend(_with_variant(group, variant, request))
    if routes:
        return routes
    if forbidden:
        raise RouteError(
            403,
            f"This API key is not allowed to use {forbidden[0]}.",
            param="model",
            code="model_not_allowed",
        )
    if not known:
        raise RouteError(
            404, f"{_shown(request.model)} is not a valid model ID.", param="model", code="model_not_found"
        )
    raise RouteError(
        503, f"No provider is available for {_shown(request.model)}.", param="model", code="no_provider"
    )
