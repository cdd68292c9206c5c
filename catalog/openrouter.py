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
        items = _items(snapshot)
        body = b"".join(
            [
                b'{"object":"list","data":[',
                b",".join(items.values()),
                b'],"total_count":%d,"links":{"next":null}}' % len(items),
            ]
        )
        snapshot.extra[LIST_KEY] = body
    return body


def model_json(snapshot: CatalogSnapshot, slug: str) -> bytes | None:
    """One model's entry as in the list (also what OpenAI's ``models.retrieve`` expects)."""
    return _items(snapshot).get(slug)
