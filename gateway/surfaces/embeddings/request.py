"""Reading and validating an OpenAI embeddings request (``POST /api/v1/embeddings``).

``input`` is a string, a list of strings, one token array (a list of integers) or a list of
token arrays, as OpenAI's CreateEmbeddingRequest allows; OpenRouter's multimodal inputs are
refused. Every refusal is an ``InvalidRequest`` naming the parameter (a 400 before any hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings

from gateway.pipeline.tokens import count_tokens
from gateway.surfaces.chat.request import InvalidRequest

ENCODING_FORMATS = ("float", "base64")
MAX_TOKEN_ID = (1 << 31) - 1
USER_MAX_CHARS = 256


@dataclass
class EmbeddingsRequest:
    """A validated embeddings request, shaped for the pipeline the chat surface also runs."""

    model: str
    models: list[str]
    inputs: list[Any]  # strings, or token arrays when ``tokenized``
    tokenized: bool = False
    encoding_format: str = "float"
    dimensions: int | None = None
    input_type: str | None = None  # OpenRouter's hint (search_query, search_document…)
    # ``user`` (the pipeline records it, and hashes it for the provider), and what routing may set.
    params: dict[str, Any] = field(default_factory=dict)
    # What the pipeline reads of every request: embeddings neither stream nor produce output.
    stream: bool = False
    max_tokens: int = 0
    n: int = 1
    tools: None = None
    mock_delay_ms: int = 0

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The inputs as user messages: what the prompt log stores for a key that logs prompts."""
        texts = (orjson.dumps(i).decode() for i in self.inputs) if self.tokenized else self.inputs
        return [{"role": "user", "content": text} for text in texts]

    def token_estimates(self) -> list[int]:
        """Each input's tokens by the gateway's counter (a token array: its length)."""
        return [len(item) if self.tokenized else count_tokens(item) for item in self.inputs]

    def token_bound(self, per_input_cap: int) -> int:
        """An upper bound on the input's tokens: a token is never shorter than a UTF-8 byte,
        a token array is its length, and no input is read past the model's context."""
        total = 0
        for item in self.inputs:
            size = len(item) if self.tokenized else len(item.encode())
            total += min(size, per_input_cap) if per_input_cap else size
        return total

    def upstream_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"input": self.inputs}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        if self.input_type is not None:
            body["input_type"] = self.input_type
        if self.params.get("user") is not None:
            body["user"] = self.params["user"]
        if self.mock_delay_ms:
            body["mock_delay_ms"] = self.mock_delay_ms
        return body


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {str: "string", list: "array", dict: "object", float: "number", type(None): "null"}.get(
        type(value), "value"
    )


def _integral(value: Any) -> bool:
    """An integer in JSON's sense: ``5`` or ``5.0`` (JSON Schema agrees), never a boolean."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _token_array(value: list[Any], param: str) -> list[int]:
    if not value:
        raise InvalidRequest(f"'{param}' must not be an empty token array.", param)
    for i, token in enumerate(value):
        if not _integral(token) or not 0 <= token <= MAX_TOKEN_ID:
            raise InvalidRequest(
                f"'{param}[{i}]' must be a token id (an integer from 0), got {_kind(token)}.", f"{param}[{i}]"
            )
    return [int(token) for token in value]


def _inputs(value: Any) -> tuple[list[Any], bool]:
    """(inputs, tokenized) from OpenAI's four shapes of ``input``."""
    if value is None:
        raise InvalidRequest("'input' is required.", "input")
    if isinstance(value, str):
        value = [value]
    elif not isinstance(value, list):
        raise InvalidRequest(
            f"Invalid type for 'input': expected a string or an array, got {_kind(value)}.", "input"
        )
    if not value:
        raise InvalidRequest("'input' must not be empty.", "input")
    limit = settings.EMBEDDINGS_MAX_INPUTS
    if len(value) > limit:
        raise InvalidRequest(f"'input' has {len(value)} items; at most {limit} are allowed.", "input")
    first = value[0]
    if _integral(first):
        return [_token_array(value, "input")], True
    if isinstance(first, list):
        arrays = []
        for i, item in enumerate(value):
            if not isinstance(item, list):
                raise InvalidRequest(
                    f"'input[{i}]' must be a token array like the first item, got {_kind(item)}.",
                    f"input[{i}]",
                )
            arrays.append(_token_array(item, f"input[{i}]"))
        return arrays, True
    for i, item in enumerate(value):
        if isinstance(item, dict):
            raise InvalidRequest(
                f"'input[{i}]' is a multimodal input; only text and token arrays are supported.",
                f"input[{i}]",
            )
        if not isinstance(item, str):
            raise InvalidRequest(
                f"Invalid type for 'input[{i}]': expected a string, got {_kind(item)}.", f"input[{i}]"
            )
        if not item:
            raise InvalidRequest(f"'input[{i}]' must not be an empty string.", f"input[{i}]")
    return value, False


def _optional_string(body: dict[str, Any], name: str, max_chars: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid type for '{name}': expected a string, got {_kind(value)}.", name)
    if len(value) > max_chars:
        raise InvalidRequest(f"'{name}' is longer than {max_chars} characters.", name)
    return value


def validate(body: dict[str, Any]) -> EmbeddingsRequest:
    """Check ``body`` against OpenAI's CreateEmbeddingRequest (plus OpenRouter's ``models``)."""
    model = body.get("model")
    models: list[str] = []
    if body.get("models") is not None:
        if not isinstance(body["models"], list) or not body["models"]:
            raise InvalidRequest("'models' must be a non-empty array of model ids.", "models")
        for i, slug in enumerate(body["models"]):
            if not isinstance(slug, str) or not slug.strip():
                raise InvalidRequest(f"'models[{i}]' must be a model id.", f"models[{i}]")
            models.append(slug)
    if model is None and models:
        model = models[0]
    if model is None:
        raise InvalidRequest("'model' is required.", "model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string.", "model")
    inputs, tokenized = _inputs(body.get("input"))

    encoding = body.get("encoding_format", "float")
    if encoding is None:
        encoding = "float"
    if encoding not in ENCODING_FORMATS:
        raise InvalidRequest(
            f"'encoding_format' must be float or base64, got {str(encoding)[:40]!r}.", "encoding_format"
        )
    dimensions = body.get("dimensions")
    if dimensions is not None:
        limit = settings.EMBEDDINGS_MAX_DIMENSIONS
        if not _integral(dimensions) or not 1 <= dimensions <= limit:
            raise InvalidRequest(f"'dimensions' must be an integer between 1 and {limit}.", "dimensions")
        dimensions = int(dimensions)
    mock_delay_ms = body.get("mock_delay_ms") or 0
    if (
        not isinstance(mock_delay_ms, int)
        or isinstance(mock_delay_ms, bool)
        or not 0 <= mock_delay_ms <= 10_000
    ):
        raise InvalidRequest("'mock_delay_ms' must be an integer between 0 and 10000.", "mock_delay_ms")
    user = _optional_string(body, "user", USER_MAX_CHARS)
    return EmbeddingsRequest(
        model=model,
        models=models,
        inputs=inputs,
        tokenized=tokenized,
        encoding_format=encoding,
        dimensions=dimensions,
        params={} if user is None else {"user": user},
        input_type=_optional_string(body, "input_type", 64),
        mock_delay_ms=mock_delay_ms,
    )
