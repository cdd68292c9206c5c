"""Rebuild the vendored schema fragments from the upstream OpenAPI documents.

    python -m promptgrid.openapi_specs.build OPENAI_YAML OPENROUTER_YAML

The project never reads the upstream documents at run time: this writes the parts
PromptGrid serves (the chat completion schemas; the OpenRouter-shaped account,
model and generation endpoints) into JSON files beside this script, each with every
component it references. OpenRouter's components get an ``OpenRouter`` prefix so
they cannot collide with OpenAI's (both define ``ReasoningEffort``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
OPENAI_ROOTS = (
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
)
OPENROUTER_PATHS = (
    "/models",
    "/generation",
    "/credits",
    "/key",
    "/keys",
    "/keys/{hash}",
    "/embeddings",
    "/embeddings/models",
)
OPENROUTER_PREFIX = "OpenRouter"
# Query parameters PromptGrid serves; OpenRouter's other filters (workspaces, benchmarks…) are not.
OPENROUTER_PARAMETERS = {
    "/generation": {"id"},
    "/keys": {"include_disabled", "offset"},
    "/keys/{hash}": {"hash"},
}


def _closure(node: Any, components: dict[str, Any], seen: set[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                _, _, kind, name = value.split("/", 3)
                if (kind, name) not in seen:
                    seen.add((kind, name))
                    _closure(components[kind][name], components, seen)
            else:
                _closure(value, components, seen)
    elif isinstance(node, list):
        for value in node:
            _closure(value, components, seen)


def _prefix_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                head, _, name = value.rpartition("/")
                out[key] = f"{head}/{prefix}{name}"
            else:
                out[key] = _prefix_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_prefix_refs(value, prefix) for value in node]
    return node


def _allows_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind is None or kind == "null" or (isinstance(kind, list) and "null" in kind)


def _drop_invalid_defaults(node: Any) -> Any:
    """OpenAI's document gives ``default: null`` to schemas that do not allow null
    (``ChatCompletionStreamOptions``); strict validators reject that, so drop them."""
    if isinstance(node, dict):
        cleaned = {key: _drop_invalid_defaults(value) for key, value in node.items()}
        if "default" in cleaned and cleaned["default"] is None and not _allows_null(cleaned):
            del cleaned["default"]
        return cleaned
    if isinstance(node, list):
        return [_drop_invalid_defaults(value) for value in node]
    return node


def build_openai(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    seen = {("schemas", name) for name in OPENAI_ROOTS}
    for name in OPENAI_ROOTS:
        _closure(schemas[name], spec["components"], seen)
    components: dict[str, dict[str, Any]] = {}
    for kind, name in sorted(seen):
        components.setdefault(kind, {})[name] = _drop_invalid_defaults(spec["components"][kind][name])
    return {"source": spec["info"]["title"] + " " + spec["info"]["version"], "components": components}


def build_openrouter(spec: dict[str, Any]) -> dict[str, Any]:
    seen: set[tuple[str, str]] = set()
    paths = {}
    for path in OPENROUTER_PATHS:
        item = {
            method: {
                **operation,
                "parameters": [
                    p
                    for p in operation.get("parameters", [])
                    if p.get("name") in OPENROUTER_PARAMETERS.get(path, ())
                ],
            }
            for method, operation in spec["paths"][path].items()
        }
        _closure(item, spec["components"], seen)
        paths[path] = _drop_invalid_defaults(_prefix_refs(item, OPENROUTER_PREFIX))
    components: dict[str, dict[str, Any]] = {}
    for kind, name in sorted(seen):
        components.setdefault(kind, {})[OPENROUTER_PREFIX + name] = _drop_invalid_defaults(
            _prefix_refs(spec["components"][kind][name], OPENROUTER_PREFIX)
        )
    return {
        "source": spec["info"]["title"] + " " + str(spec["info"].get("version", "")),
        "paths": paths,
        "components": components,
    }


def main(openai_yaml: str, openrouter_yaml: str) -> None:
    with open(openai_yaml, encoding="utf-8") as fh:
        openai_part = build_openai(yaml.safe_load(fh))
    with open(openrouter_yaml, encoding="utf-8") as fh:
        openrouter_part = build_openrouter(yaml.safe_load(fh))
    for name, part in (("openai_chat.json", openai_part), ("openrouter_api.json", openrouter_part)):
        (HERE / name).write_text(json.dumps(part, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
