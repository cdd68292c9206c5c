"""The catalog in OpenRouter's models-list shape (``GET /api/v1/models``).

Prices are decimal strings in USD per token (the catalog stores USD per million
tokens), written without exponent or float noise: $0.15/M → ``"0.00000015"``.
Each item also carries OpenAI's ``object``/``owned_by`` so OpenAI SDKs can list
models too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from catalog.snapshot import CatalogSnapshot, ModelInfo

MILLION = Decimal(1_000_000)
_TOKENIZERS = {"openai": "GPT", "anthropic": "Claude", "google": "Gemini"}
LIST_KEY = "openrouter:list"
ITEM_KEY = "openrouter:items"
TEXT_LIST_KEY = "openrouter:list:text"  # the default list: models that answer in text


def per_token(price_per_million: Decimal) -> str:
    if not price_per_million:
        return "0"
    return format((price_per_million / MILLION).normalize(), "f")


def model_item(info: ModelInfo) -> dict[str, Any]:
    listing = info.listing
    author = info.slug.split("/", 1)[0]
    inputs = list(info.input_modalities)
    outputs = list(info.output_modalities)
    if listing is not None:
        pricing = {
            "prompt": per_token(listing.input_price),
            "completion": per_token(listing.output_price),
            "input_cache_read": per_token(listing.cache_read_price),
            "input_cache_write": per_token(listing.cache_write_price),
            # OpenRouter's request price is USD per request, as is the catalog's.
            "request": format(listing.request_price.normalize(), "f") if listing.request_price else "0",
        }
        top_context = listing.context_length
        top_max_out = listing.target.max_output_tokens
    else:
        pricing = dict.fromkeys(
            ("prompt", "completion", "input_cache_read", "input_cache_write", "request"), "0"
        )
        top_context, top_max_out = info.context_length, info.max_output_tokens
    return {
        "id": info.slug,
        "canonical_slug": info.slug,
        "object": "model",
        "owned_by": author,
        "name": info.name,
        "created": info.created,
        "description": info.description,
        "context_length": info.context_length,
        "architecture": {
            "modality": f"{'+'.join(inputs)}->{'+'.join(outputs)}",
            "input_modalities": inputs,
            "output_modalities": outputs,
            "tokenizer": _TOKENIZERS.get(author, "Other"),
            "instruct_type": None,
        },
        "pricing": pricing,
        "top_provider": {
            "context_length": top_context or None,
            "max_completion_tokens": top_max_out or None,
            "is_moderated": False,
        },
        "per_request_limits": None,
        "supported_parameters": list(info.supported_parameters),
        "default_parameters": None,
        "supported_voices": None,
        "links": {"details": f"/api/v1/models/{info.slug}"},
    }


def _items(snapshot: CatalogSnapshot) -> dict[str, bytes]:
    """Each listed model's JSON, serialised once per snapshot."""
    items = snapshot.extra.get(ITEM_KEY)
    if items is None:
        items = {
            slug: orjson.dumps(model_item(info))
            for slug, info in snapshot.models.items()
            if info.listing is not None  # a model with no enabled endpoint is not offered
        }
        snapshot.extra[ITEM_KEY] = items
    return items


def models_list_json(snapshot: CatalogSnapshot) -> bytes:
    body = snapshot.extra.get(LIST_KEY)
    if body is None:
        body = _list_body(list(_items(snapshot).values()))
        snapshot.extra[LIST_KEY] = body
    return body


def model_json(snapshot: CatalogSnapshot, slug: str) -> bytes | None:
    """One model's entry as in the list (also what OpenAI's ``models.retrieve`` expects)."""
    return _items(snapshot).get(slug)


def _wanted(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


def models_filtered_json(
    snapshot: CatalogSnapshot, *, supported_parameters: str | None, output_modalities: str | None
) -> bytes:
    """The list narrowed as OpenRouter narrows it: every parameter named in
    ``supported_parameters`` supported; some modality of ``output_modalities`` produced
    (nothing given means ``text``, as OpenRouter defaults; ``all`` lists every model, embedding
    models included)."""
    params = _wanted(supported_parameters)
    outputs = _wanted(output_modalities) or {"text"}
    if not params and "all" in outputs:
        return models_list_json(snapshot)
    if not params and outputs == {"text"}:  # the default list: built once per snapshot
        body = snapshot.extra.get(TEXT_LIST_KEY)
        if body is None:
            body = snapshot.extra[TEXT_LIST_KEY] = _filtered(snapshot, params, outputs)
        return body
    return _filtered(snapshot, params, outputs)


def _filtered(snapshot: CatalogSnapshot, params: set[str], outputs: set[str]) -> bytes:
    items = _items(snapshot)
    kept = [
        body
        for slug, body in items.items()
        if params <= set(snapshot.models[slug].supported_parameters)
        and ("all" in outputs or outputs & set(snapshot.models[slug].output_modalities))
    ]
    return _list_body(kept)


def _list_body(items: list[bytes]) -> bytes:
    return b"".join(
        [
            b'{"object":"list","data":[',
            b",".join(items),
            b'],"total_count":%d,"links":{"next":null}}' % len(items),
        ]
    )


def models_subset_json(snapshot: CatalogSnapshot, slugs: set[str] | None) -> bytes:
    """The list restricted to ``slugs`` (None: all), for a key's allowlist."""
    if slugs is None:
        return models_list_json(snapshot)
    return _list_body([body for slug, body in _items(snapshot).items() if slug in slugs])


def _architecture(info: ModelInfo) -> dict[str, Any]:
    return model_item(info)["architecture"]


def model_endpoints_json(snapshot: CatalogSnapshot, slug: str) -> bytes | None:
    """``GET /api/v1/models/{author}/{slug}/endpoints`` in OpenRouter's shape."""
    info = snapshot.models.get(slug)
    if info is None or info.listing is None:
        return None
    endpoints = info.endpoints or (info.listing,)
    tools = "tools" in info.supported_parameters
    data = {
        "id": info.slug,
        "name": info.name,
        "created": info.created,
        "description": info.description,
        "architecture": _architecture(info),
        "endpoints": [
            {
                "name": f"{ep.target.provider_name} | {info.slug}",
                "model_id": info.slug,
                "model_name": info.name,
                "context_length": ep.context_length or info.context_length,
                "pricing": {
                    "prompt": per_token(ep.input_price),
                    "completion": per_token(ep.output_price),
                    "input_cache_read": per_token(ep.cache_read_price),
                    "input_cache_write": per_token(ep.cache_write_price),
                    "request": format(ep.request_price.normalize(), "f") if ep.request_price else "0",
                },
                "provider_name": ep.target.provider_name,
                "tag": ep.target.provider_slug,
                "quantization": None,
                "max_completion_tokens": ep.target.max_output_tokens or None,
                "max_prompt_tokens": None,
                "supported_parameters": list(info.supported_parameters),
                "status": 0,
                "uptime_last_5m": None,
                "uptime_last_30m": None,
                "uptime_last_1d": None,
                "latency_last_30m": None,
                "throughput_last_30m": None,
                "service_tier": None,
                "native_tools": {},
                "supports_implicit_caching": False,
                "supports_diarization": False,
                "supports_tool_choice": {"auto": tools, "none": tools, "required": tools, "function": tools},
            }
            for ep in endpoints
        ],
    }
    return orjson.dumps({"data": data})


def providers_json(snapshot: CatalogSnapshot) -> bytes:
    """``GET /api/v1/providers``: the providers serving some listed model."""
    seen: dict[str, dict[str, Any]] = {}
    for info in snapshot.models.values():
        for ep in info.endpoints or ((info.listing,) if info.listing else ()):
            target = ep.target
            seen.setdefault(
                target.provider_slug,
                {
                    "name": target.provider_name,
                    "slug": target.provider_slug,
                    "privacy_policy_url": None,
                    "terms_of_service_url": None,
                    "status_page_url": None,
                    "headquarters": None,
                    "datacenters": None,
                },
            )
    return orjson.dumps({"data": sorted(seen.values(), key=lambda p: p["slug"])})
