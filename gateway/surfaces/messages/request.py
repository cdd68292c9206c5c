"""Anthropic's Messages request, checked and translated into the canonical ``ChatRequest``.

The canonical request is the validated OpenAI chat shape; Anthropic's pieces map onto it
the way the Anthropic adapter maps them back (so an Anthropic model loses nothing):
``system`` -> a system message, ``tool_result`` blocks -> tool messages, ``tool_use`` ->
``tool_calls``, ``thinking``/``redacted_thinking`` -> ``reasoning_details`` (signatures
kept), ``cache_control`` stays on the part, ``document`` -> a ``file`` part.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from gateway.surfaces.chat.request import ChatRequest, validate
from gateway.surfaces.fields import fail, obj, string

MAX_STOP_SEQUENCES = 1000  # Anthropic documents no limit; bound the work of checking them
# Anthropic's dated ids (claude-sonnet-4-5-20250929) price and route as the catalog alias.
_DATED = re.compile(r"^(claude-[a-z0-9.-]+?)-\d{8}$")


def catalog_model(name: str) -> str:
    """The catalog slug for an Anthropic model name (dated or bare); others as they are."""
    if "/" in name:
        return name
    dated = _DATED.match(name)
    if dated:
        name = dated.group(1)
    if name.startswith("claude-"):
        return f"anthropic/{name}"
    return name


def _blocks(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise fail(param, "expected a string or an array of content blocks")
    return [obj(block, f"{param}.{i}") for i, block in enumerate(content)]


def _keep_cache(part: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    if isinstance(block.get("cache_control"), dict):
        part["cache_control"] = block["cache_control"]
    return part


def _source(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = obj(block.get("source"), f"{param}.source")
    kind = source.get("type")
    if kind == "base64":
        media = string(source.get("media_type"), f"{param}.source.media_type")
        data = string(source.get("data"), f"{param}.source.data")
        return {"url": f"data:{media};base64,{data}", "media_type": media, "data": data}
    if kind == "url":
        return {"url": string(source.get("url"), f"{param}.source.url")}
    if kind == "text" and block.get("type") == "document":
        data = string(source.get("data"), f"{param}.source.data")
        return {"text": data}
    raise fail(f"{param}.source.type", f"unsupported source type {kind!r}")


def _user_part(block: dict[str, Any], param: str) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return _keep_cache({"type": "text", "text": string(block.get("text"), f"{param}.text")}, block)
    if kind == "image":
        source = _source(block, param)
        return _keep_cache({"type": "image_url", "image_url": {"url": source["url"]}}, block)
    if kind == "document":
        source = _source(block, param)
        if "text" in source:
            return _keep_cache({"type": "text", "text": source["text"]}, block)
        if "data" not in source:
            raise fail(f"{param}.source.type", "documents by URL are not supported; send base64")
        file = {"file_data": source["url"], "filename": str(block.get("title") or "document.pdf")}
        return _keep_cache({"type": "file", "file": file}, block)
    raise fail(f"{param}.type", f"unsupported content block type {kind!r} in a user turn")


def _tool_result_text(content: Any, param: str) -> str | list[dict[str, Any]]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for i, block in enumerate(_blocks(content, param)):
        if block.get("type") == "text":
            parts.append({"type": "text", "text": string(block.get("text"), f"{param}.{i}.text")})
        # Images in a tool result have no place in a chat tool message; they are dropped.
    return parts


def _user_turn(content: Any, param: str) -> list[dict[str, Any]]:
    """A user turn: its tool results first (as tool messages), then the rest as one user message."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(_blocks(content, param)):
        p = f"{param}.{i}"
        if block.get("type") == "tool_result":
            text = _tool_result_text(block.get("content"), f"{p}.content")
            if block.get("is_error") and isinstance(text, str):
                text = f"Error: {text}"
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": string(block.get("tool_use_id"), f"{p}.tool_use_id"),
                    "content": text,
                }
            )
        else:
            parts.append(_user_part(block, p))
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _assistant_turn(content: Any, param: str) -> dict[str, Any]:
    text: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for i, block in enumerate(_blocks(content, param)):
        p = f"{param}.{i}"
        kind = block.get("type")
        if kind == "text":
            text.append(_keep_cache({"type": "text", "text": string(block.get("text"), f"{p}.text")}, block))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") if block.get("input") is not None else {}).decode()
            calls.append(
                {
                    "id": string(block.get("id"), f"{p}.id"),
                    "type": "function",
                    "function": {"name": string(block.get("name"), f"{p}.name"), "arguments": arguments},
                }
            )
        elif kind == "thinking":
            details.append(
                {
                    "type": "reasoning.text",
                    "text": string(block.get("thinking"), f"{p}.thinking"),
                    "signature": string(block.get("signature"), f"{p}.signature"),
                    "format": "anthropic-claude-v1",
                }
            )
        elif kind == "redacted_thinking":
            data = string(block.get("data"), f"{p}.data")
            details.append({"type": "reasoning.encrypted", "data": data, "format": "anthropic-claude-v1"})
        else:
            raise fail(f"{p}.type", f"unsupported content block type {kind!r} in an assistant turn")
    message: dict[str, Any] = {"role": "assistant", "content": text or ("" if not calls else None)}
    if calls:
        message["tool_calls"] = calls
    if details:
        message["reasoning_details"] = details
    return message


def _system_parts(content: Any, param: str) -> list[dict[str, Any]]:
    parts = []
    for i, block in enumerate(_blocks(content, param)):
        if block.get("type") != "text":
            raise fail(f"{param}.{i}.type", "system blocks must be text")
        parts.append(
            _keep_cache({"type": "text", "text": string(block.get("text"), f"{param}.{i}.text")}, block)
        )
    return parts


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise fail("tools", "expected an array")
    out = []
    for i, tool in enumerate(tools):
        tool = obj(tool, f"tools.{i}")
        if tool.get("type") not in (None, "custom"):
            raise fail(f"tools.{i}.type", f"server tool {tool.get('type')!r} is not supported")
        function: dict[str, Any] = {"name": string(tool.get("name"), f"tools.{i}.name")}
        if tool.get("description") is not None:
            function["description"] = string(tool["description"], f"tools.{i}.description")
        function["parameters"] = obj(tool.get("input_schema"), f"tools.{i}.input_schema")
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any) -> tuple[Any, bool | None]:
    choice = obj(choice, "tool_choice")
    kind = choice.get("type")
    parallel = (
        None if choice.get("disable_parallel_tool_use") is None else not choice["disable_parallel_tool_use"]
    )
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", parallel
    if kind == "tool":
        return {
            "type": "function",
            "function": {"name": string(choice.get("name"), "tool_choice.name")},
        }, parallel
    raise fail("tool_choice.type", "must be auto, any, tool or none")


def _number(body: dict[str, Any], name: str, lo: float, hi: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise fail(name, f"expected a number between {lo:g} and {hi:g}")
    return value


def translate(body: dict[str, Any]) -> ChatRequest:
    """Check an Anthropic ``MessageCreateParams`` body and return the canonical request."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise fail("model", "Field required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise fail("max_tokens", "Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise fail("max_tokens", "expected an integer of at least 1")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise fail("messages", "Field required (a non-empty array)")

    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system is not None:
        parts = _system_parts(system, "system")
        messages.append({"role": "system", "content": parts})
    for i, message in enumerate(raw_messages):
        p = f"messages.{i}"
        message = obj(message, p)
        role = message.get("role")
        if role == "user":
            messages.extend(_user_turn(message.get("content"), f"{p}.content"))
        elif role == "assistant":
            messages.append(_assistant_turn(message.get("content"), f"{p}.content"))
        elif role == "system":  # Claude Code sends mid-conversation system turns
            messages.append(
                {"role": "system", "content": _system_parts(message.get("content"), f"{p}.content")}
            )
        else:
            raise fail(f"{p}.role", "must be user, assistant or system")

    chat: dict[str, Any] = {
        "model": catalog_model(model),
        "messages": messages,
        "max_tokens": max_tokens,
    }
    if body.get("stream") is not None:
        if not isinstance(body["stream"], bool):
            raise fail("stream", "expected a boolean")
        chat["stream"] = body["stream"]
    for name, hi in (("temperature", 1), ("top_p", 1)):
        value = _number(body, name, 0, hi)
        if value is not None:
            chat[name] = value
    if body.get("top_k") is not None:
        top_k = body["top_k"]
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise fail("top_k", "expected a non-negative integer")
        chat["top_k"] = top_k
    stops: list[str] = []
    if body.get("stop_sequences") is not None:
        stops = body["stop_sequences"]
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise fail("stop_sequences", "expected an array of strings")
        if len(stops) > MAX_STOP_SEQUENCES:
            raise fail("stop_sequences", f"at most {MAX_STOP_SEQUENCES} sequences")
        if stops:
            chat["stop"] = stops[:4]  # chat's check allows four; the whole list is put back below
    if body.get("metadata") is not None:
        user = obj(body["metadata"], "metadata").get("user_id")
        if user is not None:
            chat["user"] = string(user, "metadata.user_id")
    if body.get("tools") is not None:
        tools = _tools(body["tools"])
        if tools:
            chat["tools"] = tools
    if body.get("tool_choice") is not None:
        choice, parallel = _tool_choice(body["tool_choice"])
        if chat.get("tools") or choice in ("none", "auto"):
            chat["tool_choice"] = choice
        else:
            raise fail("tool_choice", "needs tools")
        if parallel is not None and chat.get("tools"):
            chat["parallel_tool_calls"] = parallel
    if body.get("thinking") is not None:
        thinking = obj(body["thinking"], "thinking")
        if thinking.get("type") == "enabled":
            budget = thinking.get("budget_tokens")
            if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1024:
                raise fail("thinking.budget_tokens", "expected an integer of at least 1024")
            if budget >= max_tokens:
                raise fail("max_tokens", "must be greater than thinking.budget_tokens")
            chat["reasoning"] = {"max_tokens": budget}
        elif thinking.get("type") == "disabled":
            chat["reasoning"] = {"enabled": False}
        elif thinking.get("type") != "adaptive":
            raise fail("thinking.type", "must be enabled, disabled or adaptive")
    if body.get("mock_delay_ms") is not None:
        chat["mock_delay_ms"] = body["mock_delay_ms"]
    checked = validate(chat)
    if len(stops) > 4:
        # Anthropic takes more than OpenAI's four: its models get them all; a model whose
        # provider takes fewer refuses them upstream with a 400 that says so.
        checked.params["stop"] = stops
    return checked
