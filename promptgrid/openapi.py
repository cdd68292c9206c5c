"""The public API's OpenAPI 3.1 document: DRF views through drf-spectacular, plus the rest.

The chat endpoint is a plain async Django view (no DRF on the hot path), so the
schema generator cannot see it. ``add_public_api`` (a spectacular postprocessing
hook) adds it with OpenAI's own request and response schemas, and adds the
OpenRouter-shaped endpoints (models, generation, credits, key, keys) that are
served by plain views, in the shapes of OpenRouter's API. Both come from
fragments vendored in ``promptgrid/openapi_specs`` (see ``build.py`` there).

Only routes this deployment really serves are documented: each path is checked
against the URLconf, and a path DRF already documented is left as generated.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from django.urls import Resolver404, resolve

API_PREFIX = "/api/v1"
SPECS_DIR = Path(__file__).resolve().parent / "openapi_specs"
SECURITY = [{"apiKey": []}]  # the scheme accounts.authentication declares for DRF views

# A sample value for each path parameter, to ask the URLconf whether the path is served.
_SAMPLE_PARAMS = {"hash": "0123456789abcdef"}
_PARAM = re.compile(r"\{([^}]+)\}")

_ERROR_STATUSES = {
    "400": "The request is malformed or asks for something the model cannot do.",
    "401": "The API key is missing, unknown, revoked or expired.",
    "402": "The balance (or the key's spending limit) cannot cover the request's worst-case cost.",
    "403": "The key may not use this model.",
    "404": "No such model.",
    "413": "The request body is too large.",
    "429": "A rate limit of the key or the account was reached; see Retry-After.",
    "502": "Every provider serving the model failed before answering.",
    "503": "No provider is available for the model.",
    "504": "The provider did not answer in time.",
}


@cache
def _fragment(name: str) -> dict[str, Any]:
    with open(SPECS_DIR / name, encoding="utf-8") as fh:
        return json.load(fh)


def _served_path(path: str) -> str | None:
    """The documented form of ``path`` if the URLconf routes it (with or without a slash)."""
    concrete = _PARAM.sub(lambda m: _SAMPLE_PARAMS.get(m.group(1), "1"), path)
    for candidate, documented in ((concrete, path), (concrete + "/", path + "/")):
        try:
            resolve(candidate)
        except Resolver404:
            continue
        return documented
    return None


def _shape(path: str) -> str:
    return _PARAM.sub("{}", path.rstrip("/"))


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GatewayError"}}},
    }


GATEWAY_SCHEMAS: dict[str, Any] = {
    "GatewayError": {
        "type": "object",
        "description": "Every error of the public API, in OpenAI's shape.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string", "examples": ["invalid_request_error", "insufficient_quota"]},
                    "code": {"type": ["string", "null"]},
                    "param": {"type": ["string", "null"]},
                },
            }
        },
    },
    "PromptGridChatCompletionRequest": {
        "description": (
            "OpenAI's chat completion request. `model` is a PromptGrid model slug; "
            "`models` optionally lists slugs to try in order when the first cannot answer."
        ),
        "allOf": [
            {"$ref": "#/components/schemas/CreateChatCompletionRequest"},
            {
                "type": "object",
                "properties": {
                    "models": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Fallback model slugs, tried in order.",
                    }
                },
            },
        ],
    },
}


def chat_operation() -> dict[str, Any]:
    return {
        "operationId": "createChatCompletion",
        "tags": ["Chat"],
        "summary": "Create a chat completion",
        "description": (
            "OpenAI-compatible: send the same body you would send to OpenAI. The answer (or the "
            "stream of chunks when `stream` is true) has OpenAI's shape whatever the provider. "
            "The response's `x-request-id` header identifies the request in the logs."
        ),
        "security": SECURITY,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/PromptGridChatCompletionRequest"}
                }
            },
        },
        "responses": {
            "200": {
                "description": "The completion, or a server-sent event stream of chunks ending in `[DONE]`.",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/CreateChatCompletionResponse"}
                    },
                    "text/event-stream": {
                        "schema": {"$ref": "#/components/schemas/CreateChatCompletionStreamResponse"}
                    },
                },
            },
            **{status: _error_response(text) for status, text in _ERROR_STATUSES.items()},
        },
    }


def _merge_components(result: dict[str, Any], components: dict[str, dict[str, Any]]) -> None:
    target = result.setdefault("components", {})
    for kind, items in components.items():
        section = target.setdefault(kind, {})
        for name, value in items.items():
            section.setdefault(name, copy.deepcopy(value))


def add_public_api(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    paths = result.setdefault("paths", {})
    generated_shapes = {_shape(path) for path in paths}

    _merge_components(
        result,
        {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "pg-v1-…"},
            }
        },
    )

    chat_path = _served_path(f"{API_PREFIX}/chat/completions")
    if chat_path:
        _merge_components(result, {"schemas": GATEWAY_SCHEMAS})
        _merge_components(result, _fragment("openai_chat.json")["components"])
        paths[chat_path] = {"post": chat_operation()}

    openrouter = _fragment("openrouter_api.json")
    added = False
    for path, item in openrouter["paths"].items():
        public_path = API_PREFIX + path
        if _shape(public_path) in generated_shapes:
            continue  # documented by DRF from the real serializer
        served = _served_path(public_path)
        if not served:
            continue
        operations = copy.deepcopy(item)
        for operation in operations.values():
            operation["security"] = SECURITY
        paths[served] = operations
        added = True
    if added:
        _merge_components(result, openrouter["components"])

    result["paths"] = dict(sorted(paths.items()))
    return result
