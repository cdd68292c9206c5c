"""Reading and validating an OpenAI chat completion request.

The body is read with a size cap (413 without reading it whole), parsed with
orjson and checked field by field into a ``ChatRequest``. Every refusal is an
``InvalidRequest`` naming the parameter, which the view turns into a 400; no
input can reach the upstream call or the hold in a shape the gateway did not
check. Unknown fields are ignored (dropped, so they never reach a provider).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest


class InvalidRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status


class BodyTooLarge(InvalidRequest):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body is larger than {limit} bytes.", None, 413)


READ_CHUNK = 64 * 1024


def read_body(request: HttpRequest, limit: int | None = None) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed ``limit``.

    Content-Length is checked before reading; a chunked body is counted while it
    is read, so an oversized one is never held in memory whole. (On ASGI the
    server-side guard in ``gateway.asgi`` stops it even earlier.)
    """
    limit = settings.API_MAX_BODY_BYTES if limit is None else limit
    declared = request.META.get("CONTENT_LENGTH")
    if declared:
        try:
            if int(declared) > limit:
                raise BodyTooLarge(limit)
        except ValueError:
            raise InvalidRequest("Content-Length is not a number.") from None
    parts = []
    size = 0
    while True:
        chunk = request.read(READ_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        parts.append(chunk)
    return b"".join(parts)


# Fields forwarded to providers as they are (after their type check); anything else is dropped.
_PASSTHROUGH = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "stop",
    "temperature",
    "top_p",
    "seed",
    "n",
    "frequency_penalty",
    "presence_penalty",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "user",
    "reasoning_effort",
    "metadata",
    "safety_identifier",
    "prompt_cache_key",
    "verbosity",
    # OpenRouter's extensions, read by the adapters that support them.
    "top_k",
    "reasoning",
    "provider",
)

ROLES = ("system", "developer", "user", "assistant", "tool")
IMAGE_URL_SCHEMES = ("http://", "https://", "data:")


@dataclass
class ChatRequest:
    """A validated request. ``params`` holds the checked optional fields to forward."""

    model: str
    models: list[str]
    messages: list[dict[str, Any]]
    stream: bool = False
    max_tokens: int | None = None  # what the client asked for (max_completion_tokens wins)
    params: dict[str, Any] = field(default_factory=dict)
    mock_delay_ms: int = 0
    transforms: list[str] | None = None  # OpenRouter's; None when the request sent none

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        return self.params.get("tools")

    @property
    def n(self) -> int:
        return self.params.get("n") or 1

    def upstream_body(self, *, max_tokens: int) -> dict[str, Any]:
        """The body an adapter receives: the effective output cap in ``max_tokens``."""
        body: dict[str, Any] = {"messages": self.messages, "stream": self.stream, "max_tokens": max_tokens}
        body.update(self.params)
        if self.mock_delay_ms:
            body["mock_delay_ms"] = self.mock_delay_ms
        return body


def parse_json(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise InvalidRequest("Request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "not valid UTF-8" in str(exc):  # orjson words it "surrogates not allowed"
            raise InvalidRequest("Request body is not valid UTF-8.") from None
        raise InvalidRequest(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object.")
    return body


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value),
        "integer" if isinstance(value, int) else "number" if isinstance(value, float) else "value",
    )


def _fail(param: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(f"Invalid type for '{param}': expected {expected}, got {_type_name(value)}.", param)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string(value: Any, param: str, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _fail(param, "a string", value)
    if non_empty and not value.strip():
        raise InvalidRequest(f"'{param}' must not be empty.", param)
    return value


def _object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(param, "an object", value)
    return value


def _array(value: Any, param: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(param, "an array", value)
    if non_empty and not value:
        raise InvalidRequest(f"'{param}' must not be empty.", param)
    return value


def _int(value: Any, param: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON's 5.0 is the integer 5 (JSON Schema agrees)
    if not _is_int(value):
        raise _fail(param, "an integer", value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise InvalidRequest(f"'{param}' must be {bounds}, got {value}.", param)
    return value


def _number(value: Any, param: str, lo: float, hi: float) -> float:
    if not _is_number(value):
        raise _fail(param, "a number", value)
    if not lo <= value <= hi:
        raise InvalidRequest(f"'{param}' must be between {lo:g} and {hi:g}, got {value}.", param)
    return value


def _bool(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(param, "a boolean", value)
    return value


def _text_parts(content: list[Any], param: str, allowed: tuple[str, ...] = ("text",)) -> None:
    for i, part in enumerate(content):
        p = f"{param}[{i}]"
        _object(part, p)
        kind = part.get("type")
        if kind not in allowed:
            raise InvalidRequest(
                f"'{p}.type' must be one of {', '.join(allowed)}, got {kind!r}.", f"{p}.type"
            )
        if kind == "text":
            _string(part.get("text"), f"{p}.text")
        elif kind == "refusal":
            _string(part.get("refusal"), f"{p}.refusal")


def _user_parts(content: list[Any], param: str) -> None:
    for i, part in enumerate(content):
        p = f"{param}[{i}]"
        _object(part, p)
        kind = part.get("type")
        if kind == "text":
            _string(part.get("text"), f"{p}.text")
        elif kind == "image_url":
            image = _object(part.get("image_url"), f"{p}.image_url")
            url = _string(image.get("url"), f"{p}.image_url.url")
            if not url.startswith(IMAGE_URL_SCHEMES):
                raise InvalidRequest(
                    f"'{p}.image_url.url' must be an http(s) URL or a data: URL.", f"{p}.image_url.url"
                )
            detail = image.get("detail")
            if detail is not None and detail not in ("auto", "low", "high"):
                raise InvalidRequest(
                    f"'{p}.image_url.detail' must be auto, low or high.", f"{p}.image_url.detail"
                )
        elif kind == "input_audio":
            audio = _object(part.get("input_audio"), f"{p}.input_audio")
            _string(audio.get("data"), f"{p}.input_audio.data")
            _string(audio.get("format"), f"{p}.input_audio.format")
        elif kind == "file":
            _object(part.get("file"), f"{p}.file")
        else:
            raise InvalidRequest(
                f"'{p}.type' must be one of text, image_url, input_audio, file, got {kind!r}.", f"{p}.type"
            )


def _tool_calls(calls: Any, param: str) -> None:
    for i, call in enumerate(_array(calls, param)):
        p = f"{param}[{i}]"
        _object(call, p)
        _string(call.get("id"), f"{p}.id")
        if call.get("type", "function") != "function":
            raise InvalidRequest(f"'{p}.type' must be 'function'.", f"{p}.type")
        function = _object(call.get("function"), f"{p}.function")
        _string(function.get("name"), f"{p}.function.name", non_empty=True)
        _string(function.get("arguments"), f"{p}.function.arguments")


def _message(message: Any, i: int) -> dict[str, Any]:
    p = f"messages[{i}]"
    _object(message, p)
    role = message.get("role")
    if role not in ROLES:
        raise InvalidRequest(f"'{p}.role' must be one of {', '.join(ROLES)}, got {role!r}.", f"{p}.role")
    if message.get("name") is not None:
        _string(message["name"], f"{p}.name")
    content = message.get("content")
    cp = f"{p}.content"
    if role in ("system", "developer"):
        if isinstance(content, list):
            _text_parts(content, cp)
        else:
            _string(content, cp)
    elif role == "user":
        if isinstance(content, list):
            _user_parts(content, cp)
        else:
            _string(content, cp)
    elif role == "assistant":
        if message.get("tool_calls") is not None:
            _tool_calls(message["tool_calls"], f"{p}.tool_calls")
        if content is None:
            if not message.get("tool_calls") and message.get("function_call") is None:
                raise InvalidRequest(f"'{cp}' is required unless 'tool_calls' is given.", cp)
        elif isinstance(content, list):
            _text_parts(content, cp, ("text", "refusal"))
        else:
            _string(content, cp)
    else:  # tool
        _string(message.get("tool_call_id"), f"{p}.tool_call_id", non_empty=True)
        if isinstance(content, list):
            _text_parts(content, cp)
        else:
            _string(content, cp)
    return message


def _tools(tools: Any) -> list[dict[str, Any]]:
    for i, tool in enumerate(_array(tools, "tools")):
        p = f"tools[{i}]"
        _object(tool, p)
        if tool.get("type") != "function":
            raise InvalidRequest(f"'{p}.type' must be 'function'.", f"{p}.type")
        function = _object(tool.get("function"), f"{p}.function")
        _string(function.get("name"), f"{p}.function.name", non_empty=True)
        if function.get("description") is not None:
            _string(function["description"], f"{p}.function.description")
        if function.get("parameters") is not None:
            _object(function["parameters"], f"{p}.function.parameters")
        if function.get("strict") is not None:
            _bool(function["strict"], f"{p}.function.strict")
    return tools


def _tool_choice(value: Any) -> Any:
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise InvalidRequest(
                "'tool_choice' must be none, auto, required or a function object.", "tool_choice"
            )
        return value
    _object(value, "tool_choice")
    if value.get("type") != "function":
        raise InvalidRequest("'tool_choice.type' must be 'function'.", "tool_choice.type")
    function = _object(value.get("function"), "tool_choice.function")
    _string(function.get("name"), "tool_choice.function.name", non_empty=True)
    return value


def _response_format(value: Any) -> dict[str, Any]:
    _object(value, "response_format")
    kind = value.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidRequest(
            "'response_format.type' must be text, json_object or json_schema.", "response_format.type"
        )
    if kind == "json_schema":
        schema = _object(value.get("json_schema"), "response_format.json_schema")
        _string(schema.get("name"), "response_format.json_schema.name", non_empty=True)
        if schema.get("schema") is not None:
            _object(schema["schema"], "response_format.json_schema.schema")
        if schema.get("strict") is not None:
            _bool(schema["strict"], "response_format.json_schema.strict")
    return value


def _stop(value: Any) -> Any:
    if isinstance(value, str):
        return value
    _array(value, "stop", non_empty=True)
    if len(value) > 4:
        raise InvalidRequest("'stop' takes at most 4 sequences.", "stop")
    for i, item in enumerate(value):
        _string(item, f"stop[{i}]")
    return value


TRANSFORMS = ("middle-out",)


def _transforms(value: Any) -> list[str]:
    for i, name in enumerate(_array(value, "transforms")):
        if name not in TRANSFORMS:
            raise InvalidRequest(
                f"'transforms[{i}]' must be one of {', '.join(TRANSFORMS)}, got {str(name)[:40]!r}.",
                f"transforms[{i}]",
            )
    return value


_CHECKS: dict[str, Any] = {
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": lambda v: _bool(v, "parallel_tool_calls"),
    "response_format": _response_format,
    "stop": _stop,
    "temperature": lambda v: _number(v, "temperature", 0, 2),
    "top_p": lambda v: _number(v, "top_p", 0, 1),
    "seed": lambda v: _int(v, "seed"),
    "n": lambda v: _int(v, "n", 1, 128),
    "frequency_penalty": lambda v: _number(v, "frequency_penalty", -2, 2),
    "presence_penalty": lambda v: _number(v, "presence_penalty", -2, 2),
    "logprobs": lambda v: _bool(v, "logprobs"),
    "top_logprobs": lambda v: _int(v, "top_logprobs", 0, 20),
    "logit_bias": lambda v: _object(v, "logit_bias"),
    "user": lambda v: _string(v, "user"),
    "reasoning_effort": lambda v: _string(v, "reasoning_effort"),
    "metadata": lambda v: _object(v, "metadata"),
    "safety_identifier": lambda v: _string(v, "safety_identifier"),
    "prompt_cache_key": lambda v: _string(v, "prompt_cache_key"),
    "verbosity": lambda v: _string(v, "verbosity"),
    "top_k": lambda v: _int(v, "top_k", 0),
    "reasoning": lambda v: _object(v, "reasoning"),
    "provider": lambda v: _object(v, "provider"),
}


def validate(body: dict[str, Any]) -> ChatRequest:
    """Check ``body`` against OpenAI's CreateChatCompletionRequest (plus OpenRouter's ``models``)."""
    model = body.get("model")
    models_value = body.get("models")
    models: list[str] = []
    if models_value is not None:
        for i, slug in enumerate(_array(models_value, "models", non_empty=True)):
            models.append(_string(slug, f"models[{i}]", non_empty=True))
    if model is None:
        if not models:
            raise InvalidRequest("'model' is required.", "model")
        model = models[0]
    else:
        _string(model, "model", non_empty=True)

    if "messages" not in body:
        raise InvalidRequest("'messages' is required.", "messages")
    messages = [_message(m, i) for i, m in enumerate(_array(body["messages"], "messages", non_empty=True))]

    stream = False
    if body.get("stream") is not None:
        stream = _bool(body["stream"], "stream")
    if body.get("stream_options") is not None:
        options = _object(body["stream_options"], "stream_options")
        if options.get("include_usage") is not None:
            _bool(options["include_usage"], "stream_options.include_usage")
    if body.get("usage") is not None and not isinstance(body["usage"], dict | bool):
        raise _fail("usage", "an object", body["usage"])

    max_tokens = None
    if body.get("max_tokens") is not None:
        max_tokens = _int(body["max_tokens"], "max_tokens", 1)
    if body.get("max_completion_tokens") is not None:
        max_tokens = _int(body["max_completion_tokens"], "max_completion_tokens", 1)

    params: dict[str, Any] = {}
    for name in _PASSTHROUGH:
        value = body.get(name)
        if value is not None:
            params[name] = _CHECKS[name](value)
    if "tool_choice" in params and params["tool_choice"] != "none" and not params.get("tools"):
        if params["tool_choice"] != "auto":
            raise InvalidRequest("'tool_choice' needs 'tools'.", "tool_choice")
    if isinstance(params.get("tool_choice"), dict) and params.get("tools"):
        # A forced function that is not offered: providers refuse it after the hold is placed.
        name = params["tool_choice"]["function"]["name"]
        if name not in {tool["function"]["name"] for tool in params["tools"]}:
            raise InvalidRequest(
                f"'tool_choice.function.name' {name!r} is not one of the given tools.",
                "tool_choice.function.name",
            )

    transforms = None
    if body.get("transforms") is not None:
        transforms = _transforms(body["transforms"])

    mock_delay_ms = 0
    if body.get("mock_delay_ms") is not None:
        mock_delay_ms = _int(body["mock_delay_ms"], "mock_delay_ms", 0, 10_000)

    return ChatRequest(
        model=model,
        models=models,
        messages=messages,
        stream=stream,
        max_tokens=max_tokens,
        params=params,
        mock_delay_ms=mock_delay_ms,
        transforms=transforms,
    )
