"""Public models API: no authentication, served from the cached catalog snapshot.

Plain Django views returning pre-serialised bytes (no DRF): the body is built
once per snapshot version, so a request costs a cache lookup and a write.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from catalog.openrouter import (
    model_endpoints_json,
    model_json,
    models_filtered_json,
    providers_json,
)
from catalog.snapshot import get_snapshot
from promptgrid.errors import error_response


def _json(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


def _method_not_allowed(request: HttpRequest) -> HttpResponse | None:
    if request.method in ("GET", "HEAD"):
        return None
    return error_response(
        405, f"{request.method} is not allowed here; use GET.", headers={"Allow": "GET, HEAD"}
    )


def models_list(request: HttpRequest) -> HttpResponse:
    refused = _method_not_allowed(request)
    if refused is not None:
        return refused
    return _json(
        models_filtered_json(
            get_snapshot(),
            supported_parameters=request.GET.get("supported_parameters"),
            output_modalities=request.GET.get("output_modalities"),
        )
    )


def embedding_models_list(request: HttpRequest) -> HttpResponse:
    """OpenRouter's ``GET /embeddings/models``: the models served at ``/embeddings``."""
    refused = _method_not_allowed(request)
    if refused is not None:
        return refused
    return _json(
        models_filtered_json(get_snapshot(), supported_parameters=None, output_modalities="embeddings")
    )


def providers_list(request: HttpRequest) -> HttpResponse:
    refused = _method_not_allowed(request)
    if refused is not None:
        return refused
    return _json(providers_json(get_snapshot()))


def model_detail(request: HttpRequest, model_id: str) -> HttpResponse:
    refused = _method_not_allowed(request)
    if refused is not None:
        return refused
    if model_id.endswith("/endpoints") and model_id.count("/") == 2:
        body = model_endpoints_json(get_snapshot(), model_id.removesuffix("/endpoints"))
    else:
        body = model_json(get_snapshot(), model_id)
    if body is None:
        return error_response(
            404, f"The model '{model_id}' does not exist.", code="model_not_found", param="model"
        )
    return _json(body)
