"""Where the gateway accepts less than OpenAI's chat schema, the published schema says so.

OpenAI's vendored schema (``openapi_specs/openai_chat.json``) allows some requests that the
gateway refuses with a 400: the deprecated ``function`` role, custom (non-function) tools and
tool calls, the ``allowed_tools`` tool choice, blank names and ids, an assistant message with
nothing in it, and image URLs that are neither http(s) nor ``data:``. Narrowing the schema
keeps it a true contract, which the schemathesis run in tests/contract checks both ways.
"""

from __future__ import annotations

import copy
from typing import Any

# What the gateway's "must not be empty" means (``str.strip()`` leaves something). Python counts
# \x1c-\x1f (and ECMA \x85) as whitespace where other regex engines do not: named for all.
NON_BLANK = {"type": "string", "pattern": r"[^\s\x1c-\x1f\x85]"}
# A URL or a DRF field holds no NUL (promptgrid/nul.py, DRF's CharField), blank or not.
NO_NUL = r"^[^\x00]*$"
NON_BLANK_NO_NUL = r"^[^\x00]*[^\s\x00\x1c-\x1f\x85][^\x00]*$"

_DROPPED_VARIANTS = {
    "ChatCompletionRequestFunctionMessage",
    "ChatCompletionMessageCustomToolCall",
    "CustomToolChatCompletions",
    "ChatCompletionAllowedToolsChoice",
    "ChatCompletionNamedToolChoiceCustom",
}


def _ref_name(schema: Any) -> str:
    return schema.get("$ref", "").rsplit("/", 1)[-1] if isinstance(schema, dict) else ""


def _drop_variants(node: Any) -> None:
    if isinstance(node, dict):
        for key in ("oneOf", "anyOf"):
            if isinstance(node.get(key), list):
                node[key] = [s for s in node[key] if _ref_name(s) not in _DROPPED_VARIANTS]
        mapping = node.get("discriminator", {}).get("mapping")
        if isinstance(mapping, dict):
            for name, ref in list(mapping.items()):
                if ref.rsplit("/", 1)[-1] in _DROPPED_VARIANTS:
                    del mapping[name]
        for value in node.values():
            _drop_variants(value)
    elif isinstance(node, list):
        for value in node:
            _drop_variants(value)


def _non_blank(schema: dict[str, Any], *path: str) -> None:
    for name in path[:-1]:
        schema = schema["properties"][name]
    schema["properties"][path[-1]] = {**schema["properties"][path[-1]], **NON_BLANK}


def narrow_openai_chat(components: dict[str, Any]) -> dict[str, Any]:
    components = copy.deepcopy(components)
    schemas = components["schemas"]
    for name in _DROPPED_VARIANTS:
        schemas.pop(name, None)
    _drop_variants(schemas)
    _non_blank(schemas["ChatCompletionRequestToolMessage"], "tool_call_id")
    _non_blank(schemas["ChatCompletionMessageToolCall"], "function", "name")
    _non_blank(schemas["FunctionObject"], "name")
    _non_blank(schemas["ChatCompletionNamedToolChoice"], "function", "name")
    _non_blank(schemas["ResponseFormatJsonSchema"], "json_schema", "name")
    image = schemas["ChatCompletionRequestMessageContentPartImage"]["properties"]["image_url"]
    image["properties"]["url"] = {**image["properties"]["url"], "pattern": "^(https?://|data:)"}
    schemas["ChatCompletionRequestAssistantMessage"]["anyOf"] = ASSISTANT_SAYS_SOMETHING
    return components


# An assistant message says something: content, tool calls, or (deprecated) a function call.
ASSISTANT_SAYS_SOMETHING = [
    {"required": ["content"], "properties": {"content": {"not": {"type": "null"}}}},
    {"required": ["tool_calls"], "properties": {"tool_calls": {"type": "array", "minItems": 1}}},
    {"required": ["function_call"], "properties": {"function_call": {"not": {"type": "null"}}}},
]


def narrow_openrouter_embeddings(operation: dict[str, Any], *, max_inputs: int, max_dimensions: int) -> None:
    """OpenRouter's embeddings request as the gateway takes it: OpenAI's four shapes of
    ``input`` (no multimodal objects), at most ``max_inputs`` of them, token ids as
    non-negative integers, and ``dimensions`` within the operator's bound."""
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    props = schema["properties"]
    tokens = {
        "type": "array",
        "minItems": 1,
        "maxItems": max_inputs,
        "items": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
    }
    props["input"] = {
        **{k: v for k, v in props["input"].items() if k != "anyOf"},
        "anyOf": [
            {"type": "string", "minLength": 1},
            {
                "type": "array",
                "minItems": 1,
                "maxItems": max_inputs,
                "items": {"type": "string", "minLength": 1},
            },
            tokens,
            {"type": "array", "minItems": 1, "maxItems": max_inputs, "items": {**tokens, "maxItems": None}},
        ],
    }
    props["input"]["anyOf"][3]["items"].pop("maxItems")
    props["model"] = {**props.get("model", {}), **NON_BLANK}
    props["dimensions"] = {
        **props.get("dimensions", {}),
        "type": "integer",
        "minimum": 1,
        "maximum": max_dimensions,
    }
    if "user" in props:
        props["user"] = {**props["user"], "maxLength": 256}


# OpenRouter types a max price as a string; the gateway reads it as a non-negative decimal.
DECIMAL_STRING = r"^\s*\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


def narrow_openrouter_prices(components: dict[str, Any]) -> None:
    """OpenRouter's ``provider`` object as the gateway reads it: prices as decimal strings,
    provider names that are not blank, and the sorts it implements (not ``exacto``)."""
    schemas = components.get("schemas", {})
    props = schemas.get("OpenRouterProviderPreferences", {}).get("properties", {})
    max_price = props.get("max_price", {})
    for name, prop in max_price.get("properties", {}).items():
        if prop.get("type") == "string":
            max_price["properties"][name] = {**prop, "pattern": DECIMAL_STRING}
    for name in ("only", "order", "ignore"):
        if name in props:
            props[name] = {**props[name], "items": NON_BLANK}
    sorts = ["price", "throughput", "latency"]
    if "OpenRouterProviderSort" in schemas:
        schemas["OpenRouterProviderSort"]["enum"] = sorts
    by = schemas.get("OpenRouterProviderSortConfig", {}).get("properties", {}).get("by")
    if by is not None:
        by["enum"] = [*sorts, None]
