"""Validation against OpenAI's own response schemas (copied from its OpenAPI spec by schemas/extract.py)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).with_name("schemas") / "openai_chat.json"


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    document = json.loads(SCHEMAS.read_text())
    schema = {**document, "$ref": f"#/$defs/{name}"}
    return jsonschema.Draft202012Validator(schema)


def assert_valid(name: str, instance: Any) -> None:
    errors = sorted(_validator(name).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def assert_completion(body: Any) -> None:
    assert_valid("CreateChatCompletionResponse", body)


def assert_chunk(chunk: Any) -> None:
    assert_valid("CreateChatCompletionStreamResponse", chunk)


def assert_error(body: Any) -> None:
    assert_valid("ErrorResponse", body)
