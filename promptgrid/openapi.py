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

from django.conf import settings
from django.urls import Resolver404, resolve

from promptgrid.openapi_narrowing import (
    NO_NUL,
    NON_BLANK,
    NON_BLANK_NO_NUL,
    narrow_openai_chat,
    narrow_openrouter_embeddings,
    narrow_openrouter_prices,
)

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
                    # OpenAI's schema allows "" (or blanks), which names no model: a 400.
                    "model": NON_BLANK,
                    "max_tokens": {"type": "integer", "minimum": 1},
                    "max_completion_tokens": {"type": "integer", "minimum": 1},
                    "top_logprobs": {"type": "integer", "minimum": 0, "maximum": 20},
                    "models": {
                        "type": "array",
                        "minItems": 1,
                        "items": NON_BLANK,
                        "description": "Fallback model slugs, tried in order.",
                    },
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


def _drf_strings_are_trimmed(schemas: dict[str, Any]) -> None:
    """DRF's CharField refuses NUL, and trims whitespace before it checks blank, so a string
    of only spaces is refused like an empty one: say so (drf-spectacular writes minLength)."""
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            for string in (prop, prop.get("items") or {}):
                if string.get("type") == "string" and not ({"pattern", "format", "enum"} & string.keys()):
                    string["pattern"] = NON_BLANK_NO_NUL if string.get("minLength", 0) >= 1 else NO_NUL


def add_public_api(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    paths = result.setdefault("paths", {})
    _drf_strings_are_trimmed(result.get("components", {}).get("schemas", {}))
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
        _merge_components(result, narrow_openai_chat(_fragment("openai_chat.json")["components"]))
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
        if path == "/embeddings" and "post" in operations:
            narrow_openrouter_embeddings(
                operations["post"],
                max_inputs=settings.EMBEDDINGS_MAX_INPUTS,
                max_dimensions=settings.EMBEDDINGS_MAX_DIMENSIONS,
            )
        for operation in operations.values():
            # An operation OpenRouter documents without a 401 (the model list) needs no key.
            operation["security"] = SECURITY if "401" in operation.get("responses", {}) else [*SECURITY, {}]
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("required") and schema.get("type") == "string":
                    parameter["schema"] = {**schema, "minLength": 1}  # a blank one is "required" (400)
        paths[served] = operations
        added = True
    if added:
        _merge_components(result, _with_string_error_codes(openrouter["components"]))

    _document_errors(paths)
    result["paths"] = dict(sorted(paths.items()))
    return result


def _with_string_error_codes(components: dict[str, Any]) -> dict[str, Any]:
    """OpenRouter types ``error.code`` as the HTTP status (an integer); ours is a string
    such as ``"missing_api_key"`` (OpenAI's convention), or null."""
    components = copy.deepcopy(components)
    narrow_openrouter_prices(components)
    for name, schema in components.get("schemas", {}).items():
        if name.endswith("ErrorData") and "code" in schema.get("properties", {}):
            schema["properties"]["code"] = {"type": ["string", "null"]}
    return components


def _refuse_nul_and_blank(parameter: dict[str, Any]) -> None:
    """No URL may hold NUL (promptgrid/nul.py: 400), and a required string must not be blank."""
    schema = parameter.get("schema", {})
    if parameter.get("in") not in ("query", "path") or schema.get("type") != "string" or "pattern" in schema:
        return
    blank_ok = not parameter.get("required")
    parameter["schema"] = {
        **schema,
        "pattern": NO_NUL if blank_ok else NON_BLANK_NO_NUL,
    }


_GENERIC_ERRORS = {
    "400": "The request is malformed: a parameter or the body is missing or invalid.",
    "401": "The API key (or session) is missing, unknown, revoked or expired.",
    "404": "No such object, or it is not yours.",
}
_METHODS = {"get", "put", "post", "delete", "patch"}


def _document_errors(paths: dict[str, Any]) -> None:
    """Every public operation documents the errors every view can answer: 401 when it needs
    a key, 400 when it takes input, 404 when its path names an object."""
    for path, item in paths.items():
        if not path.startswith(API_PREFIX):
            continue
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            security = operation.get("security") or []
            needs_key = bool(security) and all(requirement for requirement in security)
            takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
            for parameter in operation.get("parameters", []):
                _refuse_nul_and_blank(parameter)
            for status, needed in (("401", needs_key), ("400", takes_input), ("404", "{" in path)):
                if needed and status not in responses:
                    responses[status] = _error_response(_GENERIC_ERRORS[status])
