"""Copy OpenAI's chat completion response schemas (and what they reference) into one JSON file.

Run once when the spec changes; the tests read only the committed JSON:

    python gateway/tests/schemas/extract.py path/to/openai-openapi.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOTS = ("CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "ErrorResponse")
PREFIX = "#/components/schemas/"


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(PREFIX):
            found.add(ref[len(PREFIX) :])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _rewrite(node: Any) -> Any:
    """Point refs at ``$defs`` and turn OpenAPI 3.0's ``nullable: true`` into JSON Schema."""
    if isinstance(node, dict):
        out = {
            k: ("#/$defs/" + v[len(PREFIX) :] if k == "$ref" and isinstance(v, str) else _rewrite(v))
            for k, v in node.items()
            if k != "nullable"
        }
        if node.get("nullable") is True:
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def main(spec_path: str) -> None:
    schemas = yaml.safe_load(Path(spec_path).read_text())["components"]["schemas"]
    wanted: set[str] = set()
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        found: set[str] = set()
        _refs(schemas[name], found)
        todo.extend(found - wanted)
    out = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {name: _rewrite(schemas[name]) for name in sorted(wanted)},
    }
    target = Path(__file__).with_name("openai_chat.json")
    target.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(wanted)} schemas to {target}")


if __name__ == "__main__":
    main(sys.argv[1])
