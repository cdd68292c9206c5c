"""OpenAI's ``CreateResponse`` body, checked and translated into the canonical ``ChatRequest``.

Stateless, as OpenRouter's Responses API is: the conversation comes whole in ``input``
(a string, or items), so ``previous_response_id``, ``conversation``, ``store: true``,
``background`` and item references are refused with a 400 that says so.

The items map onto chat messages: ``instructions`` -> a system message first;
``message`` items by role (``input_text``/``output_text`` -> text parts, ``input_image``
-> an ``image_url`` part, ``input_file`` with ``file_data`` -> a ``file`` part);
``function_call`` -> the assistant message's ``tool_calls``; ``function_call_output`` ->
a tool message; ``reasoning`` -> the next assistant message's ``reasoning_details``
(``gateway.surfaces.responses.reasoning``: an Anthropic model gets its signed thinking back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.surfaces.chat.request import ChatRequest, InvalidRequest, validate
from gateway.surfaces.fields import fail, obj, string
from gateway.surfaces.responses.reasoning import details_of
from gateway.surfaces.responses.tools import flat_name, tool_choice_of, tools_of

STATELESS = (
    "PromptGrid's Responses API is stateless: send the whole conversation in 'input' "
    "(earlier output items included) instead of {what}."
)
# Fields forwarded to the canonical request as they are (their checks are chat's).
_SAME = ("temperature", "top_p", "metadata", "user", "safety_identifier", "prompt_cache_key")
_MAX_ITEMS = 10_000  # the chat check takes any length; bound the work of translating
# The request's settings that the response object repeats back (as OpenAI's does).
_ECHOED = (
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "tool_choice",
    "tools",
    "text",
    "reasoning",
    "truncation",
    "user",
)


@dataclass
class ResponsesRequest(ChatRequest):
    """The canonical request, with the settings the response object echoes."""

    echo: dict[str, Any] = field(default_factory=dict)
    namespaced: dict[str, tuple[str, str]] = field(default_factory=dict)  # flat name -> (namespace, name)


def _input_part(part: dict[str, Any], param: str) -> dict[str, Any]:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": string(part.get("text"), f"{param}.text")}
    if kind == "input_image":
        if part.get("image_url") is None:
            raise fail(
                f"{param}.image_url", "send the image as a URL or a data: URL (there is no file store)"
            )
        image: dict[str, Any] = {"url": string(part["image_url"], f"{param}.image_url")}
        if part.get("detail") is not None and part["detail"] != "original":
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if part.get("file_data") is None:
            raise fail(f"{param}.file_data", "send the file inline in file_data (there is no file store)")
        file = {"file_data": string(part["file_data"], f"{param}.file_data")}
        file["filename"] = string(part.get("filename") or "document.pdf", f"{param}.filename")
        return {"type": "file", "file": file}
    if kind == "refusal":
        return {"type": "refusal", "refusal": string(part.get("refusal"), f"{param}.refusal")}
    raise fail(f"{param}.type", f"unsupported content type {kind!r}")


def _content(content: Any, param: str, role: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise fail(param, "expected a string or an array of content parts")
    parts = [_input_part(obj(p, f"{param}.{i}"), f"{param}.{i}") for i, p in enumerate(content)]
    if role != "user":
        for i, part in enumerate(parts):
            if part["type"] not in ("text", "refusal"):
                raise fail(f"{param}.{i}.type", f"a {role} message takes text only")
        if role != "assistant" and any(p["type"] == "refusal" for p in parts):
            raise fail(param, f"a {role} message takes text only")
    return parts


def _output_text(value: Any, param: str) -> str | list[dict[str, Any]]:
    """A function_call_output's ``output``: a string, or text parts (images have no place in a
    chat tool message)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise fail(param, "expected a string or an array of content parts")
    parts = []
    for i, part in enumerate(value):
        part = _input_part(obj(part, f"{param}.{i}"), f"{param}.{i}")
        if part["type"] != "text":
            raise fail(f"{param}.{i}.type", "a function_call_output takes text only")
        parts.append(part)
    return parts


def _call_name(item: dict[str, Any], param: str) -> str:
    name = string(item.get("name"), f"{param}.name")
    if item.get("namespace"):
        return flat_name(string(item["namespace"], f"{param}.namespace"), name)
    return name


class _Conversation:
    """Items folded into chat messages: consecutive assistant output (reasoning, text, calls)
    becomes one assistant message, as the chat protocol wants it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.details: list[dict[str, Any]] = []  # reasoning waiting for its assistant message

    def _assistant(self) -> dict[str, Any]:
        last = self.messages[-1] if self.messages else None
        if last is None or last["role"] != "assistant" or last.get("_closed"):
            last = {"role": "assistant", "content": None}
            self.messages.append(last)
        if self.details:
            last.setdefault("reasoning_details", []).extend(self.details)
            self.details = []
        return last

    def message(self, role: str, content: str | list[dict[str, Any]]) -> None:
        if role == "assistant":
            message = self._assistant()
            if message.get("tool_calls") or message["content"] is not None:
                message["_closed"] = True  # text after calls or text: a new turn
                message = self._assistant()
            message["content"] = content
            return
        self._close()
        self.messages.append({"role": role, "content": content})

    def call(self, item: dict[str, Any], param: str) -> None:
        message = self._assistant()
        arguments = item.get("arguments")
        message.setdefault("tool_calls", []).append(
            {
                "id": string(item.get("call_id"), f"{param}.call_id"),
                "type": "function",
                "function": {
                    "name": _call_name(item, param),
                    "arguments": string(arguments, f"{param}.arguments"),
                },
            }
        )

    def output(self, item: dict[str, Any], param: str) -> None:
        self._close()
        self.messages.append(
            {
                "role": "tool",
                "tool_call_id": string(item.get("call_id"), f"{param}.call_id"),
                "content": _output_text(item.get("output"), f"{param}.output"),
            }
        )

    def _close(self) -> None:
        if self.details:  # reasoning with no answer after it has nothing to attach to
            self.details = []

    def done(self) -> list[dict[str, Any]]:
        for message in self.messages:
            message.pop("_closed", None)
            if (
                message["role"] == "assistant"
                and message["content"] is None
                and not message.get("tool_calls")
            ):
                message["content"] = ""
        return self.messages


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise fail("input", "expected a string or a non-empty array of items")
    if len(value) > _MAX_ITEMS:
        raise fail("input", f"at most {_MAX_ITEMS} items")
    conversation = _Conversation()
    for i, item in enumerate(value):
        p = f"input.{i}"
        item = obj(item, p)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise fail(f"{p}.role", "must be user, assistant, system or developer")
            conversation.message(role, _content(item.get("content"), f"{p}.content", role))
        elif kind == "function_call":
            conversation.call(item, p)
        elif kind == "function_call_output":
            conversation.output(item, p)
        elif kind == "reasoning":
            conversation.details.extend(details_of(item, p))
        elif kind == "item_reference":
            raise fail(p, STATELESS.format(what="an item_reference"))
        else:
            raise fail(f"{p}.type", f"input items of type {kind!r} are not supported")
    return conversation.done()


def _text_format(text: Any) -> dict[str, Any]:
    """``text: {format, verbosity}`` as chat's ``response_format`` and ``verbosity``."""
    text = obj(text, "text")
    out: dict[str, Any] = {}
    if text.get("verbosity") is not None:
        out["verbosity"] = text["verbosity"]
    if text.get("format") is None:
        return out
    fmt = obj(text["format"], "text.format")
    kind = fmt.get("type")
    if kind in ("text", "json_object"):
        out["response_format"] = {"type": kind}
    elif kind == "json_schema":
        schema = {"name": fmt.get("name"), "schema": obj(fmt.get("schema"), "text.format.schema")}
        for name in ("strict", "description"):
            if fmt.get(name) is not None:
                schema[name] = fmt[name]
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        raise fail("text.format.type", "must be text, json_object or json_schema")
    return out


def _refuse_state(body: dict[str, Any]) -> None:
    if body.get("previous_response_id") is not None:
        raise InvalidRequest(STATELESS.format(what="previous_response_id"), "previous_response_id")
    if body.get("conversation") is not None:
        raise InvalidRequest(STATELESS.format(what="a conversation"), "conversation")
    if body.get("store") is True:
        raise InvalidRequest(
            STATELESS.format(what="asking it to store the response") + " Set store to false.", "store"
        )
    if body.get("background") is True:
        raise InvalidRequest("Background responses need stored state; stream instead.", "background")
    if body.get("prompt") is not None:
        raise InvalidRequest("Stored prompt templates are not supported; send the prompt in input.", "prompt")


def translate(body: dict[str, Any]) -> ChatRequest:
    """Check a ``CreateResponse`` body and return the canonical request."""
    _refuse_state(body)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' is required.", "model")
    if body.get("input") is None:
        raise InvalidRequest("'input' is required.", "input")
    messages = _items(body["input"])
    if body.get("instructions") is not None:
        messages.insert(0, {"role": "system", "content": string(body["instructions"], "instructions")})

    chat: dict[str, Any] = {"model": model, "messages": messages}
    for name in ("stream", "parallel_tool_calls", "mock_delay_ms", "provider", "models", *_SAME):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    namespaced: dict[str, tuple[str, str]] = {}
    if body.get("tools") is not None:
        tools, namespaced = tools_of(body["tools"])
        if tools:
            chat["tools"] = tools
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = tool_choice_of(body["tool_choice"])
    if body.get("text") is not None:
        chat.update(_text_format(body["text"]))
    if body.get("reasoning") is not None:
        reasoning = obj(body["reasoning"], "reasoning")
        effort = reasoning.get("effort")
        if effort is not None:
            if effort not in ("none", "minimal", "low", "medium", "high", "xhigh"):
                raise fail("reasoning.effort", "must be none, minimal, low, medium, high or xhigh")
            chat["reasoning"] = {"effort": effort} if effort != "none" else {"enabled": False}
    try:
        checked = validate(chat)
    except InvalidRequest as exc:
        raise InvalidRequest(
            _responses_names(exc.message), exc.param and _responses_names(exc.param)
        ) from None
    echo = {name: body[name] for name in _ECHOED if body.get(name) is not None}
    return ResponsesRequest(**vars(checked), echo=echo, namespaced=namespaced)


def _responses_names(text: str) -> str:
    """Chat's parameter names in a refusal, as the client sent them."""
    for chat_name, name in (
        ("max_tokens", "max_output_tokens"),
        ("response_format.json_schema", "text.format"),
        ("response_format", "text.format"),
        ("messages", "input"),
    ):
        text = text.replace(chat_name, name)
    return text
