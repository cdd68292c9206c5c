"""The Models browser: the enabled catalog with prices, limits, capabilities and snippets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog.models import Endpoint, Model

# Capability filters: the label shown, and the request parameters that prove the capability.
CAPABILITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tools": ("Tool calling", ("tools", "tool_choice")),
    "json": ("Structured outputs", ("response_format", "structured_outputs")),
    "reasoning": ("Reasoning", ("reasoning", "include_reasoning", "reasoning_effort")),
    "vision": ("Image input", ()),
}
SORTS = {
    "slug": ("Name", lambda m: m.model.slug),
    "price_in": ("Input price", lambda m: (m.input_price, m.model.slug)),
    "price_out": ("Output price", lambda m: (m.output_price, m.model.slug)),
    "context": ("Context (largest first)", lambda m: (-m.context_length, m.model.slug)),
}


@dataclass
class ModelRow:
    model: Model
    endpoints: list[Endpoint]
    input_price: Decimal
    output_price: Decimal
    cache_read_price: Decimal
    context_length: int
    capabilities: list[str]

    @property
    def capability_labels(self) -> list[str]:
        return [CAPABILITIES[c][0] for c in self.capabilities]

    @property
    def providers(self) -> list[str]:
        return sorted({ep.provider.name for ep in self.endpoints})


def _capabilities(model: Model) -> list[str]:
    params = set(model.supported_parameters or ())
    caps = [key for key, (_, needs) in CAPABILITIES.items() if needs and params.intersection(needs)]
    if "image" in (model.input_modalities or ()):
        caps.append("vision")
    return caps


def _rows() -> list[ModelRow]:
    """Enabled models that some enabled provider serves, priced by their first endpoint (2 queries)."""
    endpoints = Endpoint.objects.filter(enabled=True, provider__enabled=True).select_related("provider")
    models = Model.objects.filter(enabled=True).prefetch_related(
        Prefetch("endpoints", queryset=endpoints.order_by("priority", "id"), to_attr="live_endpoints")
    )
    rows = []
    for model in models:
        eps = model.live_endpoints
        if not eps:
            continue
        first = eps[0]
        rows.append(
            ModelRow(
                model=model,
                endpoints=eps,
                input_price=first.input_price,
                output_price=first.output_price,
                cache_read_price=first.cache_read_price,
                context_length=first.context_length or model.context_length,
                capabilities=_capabilities(model),
            )
        )
    return rows


def _matches(row: ModelRow, q: str, author: str, capability: str) -> bool:
    if author and row.model.author != author:
        return False
    if capability and capability not in row.capabilities:
        return False
    if q:
        haystack = f"{row.model.slug} {row.model.name} {row.model.description}".lower()
        return all(word in haystack for word in q.lower().split())
    return True


@login_required
@require_GET
def models_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    author = request.GET.get("author", "")
    capability = request.GET.get("capability", "")
    if capability not in CAPABILITIES:
        capability = ""
    sort = request.GET.get("sort", "slug")
    if sort not in SORTS:
        sort = "slug"
    rows = _rows()
    authors = sorted({r.model.author for r in rows})
    shown = sorted((r for r in rows if _matches(r, q, author, capability)), key=SORTS[sort][1])
    context: dict[str, Any] = {
        "rows": shown,
        "total": len(rows),
        "q": q,
        "author": author,
        "capability": capability,
        "sort": sort,
        "authors": authors,
        "capabilities": [(k, v[0]) for k, v in CAPABILITIES.items()],
        "sorts": [(k, v[0]) for k, v in SORTS.items()],
    }
    if request.htmx and request.htmx.target == "model-results":
        return render(request, "catalog/models.html#results", context)
    return render(request, "catalog/models.html", context)


@login_required
@require_GET
def model_detail(request: HttpRequest, slug: str) -> HttpResponse:
    row = next((r for r in _rows() if r.model.slug == slug), None)
    if row is None:
        raise Http404("No such model.")
    return render(
        request,
        "catalog/model_detail.html",
        {
            "row": row,
            "model": row.model,
            "api_base": f"{settings.SITE_URL}/api/v1",
            "capability_names": CAPABILITIES,
            # Names a request may use instead of the id (retired names are not offered).
            "aliases": [a.name for a in row.model.aliases.exclude(kind="retired").order_by("name")],
        },
    )
