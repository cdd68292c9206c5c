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
from gateway.surfaces.chat.request import ChatRequest
from promptgrid.db import db_call


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


def _allowed(key: KeyInfo, slug: str) -> bool:
    return not key.allowed_models or slug in key.allowed_models


def resolve(snapshot: CatalogSnapshot, request: ChatRequest, key: KeyInfo) -> list[Route]:
    """Endpoints to try, in order; raises RouteError (403, 404, 503) when there are none."""
    if key.is_management:
        raise RouteError(403, "Management keys cannot call models; use a standard API key.", code="forbidden")
    slugs = request.models or [request.model]
    if request.model not in slugs:
        slugs = [request.model, *slugs]
    routes: list[Route] = []
    forbidden: list[str] = []
    known = False
    for slug in slugs:
        model = snapshot.models.get(slug)
        if model is None:
            continue
        known = True
        if not _allowed(key, slug):
            forbidden.append(slug)
            continue
        routes.extend(Route(model=model, endpoint=endpoint) for endpoint in model.endpoints)
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
            404, f"{request.model} is not a valid model ID.", param="model", code="model_not_found"
        )
    raise RouteError(503, f"No provider is available for {request.model}.", param="model", code="no_provider")
