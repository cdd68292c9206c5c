"""OpenAI's Responses API as an upstream wire (``POST {base_url}/responses``), for OpenAI-protocol
providers that have ``responses_api`` set in the catalog.

Chat completions keep everything the canonical request says except one thing: OpenAI's
reasoning models return their reasoning only over Responses, as ``reasoning`` items with
``encrypted_content`` that must be handed back on the next turn for the model to carry on
its thinking (what Codex and the agents SDK do). Over this wire each such item becomes a
``reasoning_details`` entry (``reasoning.encrypted``, format ``openai-responses-v1``, its id
and summary kept), and goes back upstream as the item it was. Stateless: ``store`` is false
and the encrypted reasoning is asked for with ``include``.

Sent like chat completions (``gateway.providers.openai_wire``: the SDK's configuration, the
bytes on aiohttp); errors are classified by ``gateway.providers.openai.classify``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from catalog.targets import Target
from gateway.providers.base import Completion, StreamEnd, StreamItem, UpstreamError, Usage
from gateway.providers.openai_wire import LineTooLong, Wire, lines
from gateway.providers.params import reasoning_request
from gateway.providers.translate import delta_choice, file_data_of, image_url_of, parts_of, text_of

FORMAT = "openai-responses-v1"
PATH = "/responses"
# Canonical fields with the same name and meaning on the Responses wire.
_SAME = (
    "temperature",
    "top_p",
    "parallel_tool_calls",
    "user",
    "metadata",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
)


def _user_parts(content: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in parts_of(content):
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "input_text", "text": part.get("text") or ""})
        elif kind == "image_url":
            image = part.get("image_url") if isinstance(part.get("image_url"), dict) else {}
            item = {
                "type": "input_image",
                "image_url": image_url_of(part),
                "detail": image.get("detail") or "auto",
            }
            parts.append(item)
        elif kind == "file":
            mime, data = file_data_of(part)  # checks it; the wire takes a data: URL
            file = part.get("file") or {}
            filename = str(file.get("filename") or "document.pdf")
            parts.append(
                {"type": "input_file", "filename": filename, "file_data": f"data:{mime};base64,{data}"}
            )
        else:
            raise UpstreamError("invalid_request", f"unsupported content part type {kind!r}", status=400)
    return parts


def _reasoning_items(message: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for detail in message.get("reasoning_details") or ():
        if isinstance(detail, dict) and detail.get("format") == FORMAT and detail.get("data"):
            summary = [{"type": "summary_text", "text": detail["summary"]}] if detail.get("summary") else []
            item = {"type": "reasoning", "summary": summary, "encrypted_content": detail["data"]}
            if detail.get("id"):
                item["id"] = detail["id"]
            items.append(item)
    return items


def input_items(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages as Responses input items (reasoning items first in their turn)."""
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            items.append({"role": role, "content": text_of(message.get("content"))})
        elif role == "user":
            items.append({"role": "user", "content": _user_parts(message.get("content"))})
        elif role == "assistant":
            items.extend(_reasoning_items(message))
            text = text_of(message.get("content"))
            if text:
                content = [{"type": "output_text", "text": text, "annotations": []}]
                items.append({"type": "message", "role": "assistant", "content": content})
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.get("id") or "",
                        "name": function.get("name") or "",
                        "arguments": function.get("arguments") or "{}",
                    }
                )
        elif role == "tool":
            output = text_of(message.get("content"))
            items.append(
                {"type": "function_call_output", "call_id": message.get("tool_call_id"), "output": output}
            )
    return items


def _tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        function = tool.get("function") or {}
        item: dict[str, Any] = {"type": "function", "name": function.get("name")}
        for name in ("description", "parameters", "strict"):
            if function.get(name) is not None:
                item[name] = function[name]
        out.append(item)
    return out


def _text(request: dict[str, Any]) -> dict[str, Any] | None:
    text: dict[str, Any] = {}
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema") or {}
        text["format"] = {"type": "json_schema", **{k: v for k, v in schema.items() if v is not None}}
    elif response_format.get("type") in ("json_object", "text"):
        text["format"] = {"type": response_format["type"]}
    if request.get("verbosity"):
        text["verbosity"] = request["verbosity"]
    return text or None


def build_body(request: dict[str, Any], target: Target, *, stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": target.upstream_model,
        "input": input_items(request.get("messages") or []),
        "max_output_tokens": request["max_tokens"],
        "stream": stream,
        "store": False,
        "include": ["reasoning.encrypted_content"],
    }
    body.update({name: request[name] for name in _SAME if request.get(name) is not None})
    if request.get("tools"):
        body["tools"] = _tools(request["tools"])
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        body["tool_choice"] = {"type": "function", "name": (choice.get("function") or {}).get("name")}
    elif choice is not None:
        body["tool_choice"] = choice
    text = _text(request)
    if text:
        body["text"] = text
    effort, _budget, _exclude = reasoning_request(request)
    if effort:
        body["reasoning"] = {"effort": effort, "summary": "auto"} if effort != "none" else {"effort": "none"}
    return orjson.dumps(body)


def usage_from(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    return Usage(
        prompt_tokens=int(data.get("input_tokens") or 0),
        completion_tokens=int(data.get("output_tokens") or 0),
        cached_tokens=int((data.get("input_tokens_details") or {}).get("cached_tokens") or 0),
        reasoning_tokens=int((data.get("output_tokens_details") or {}).get("reasoning_tokens") or 0),
    )


def _summary(item: dict[str, Any]) -> str:
    return "".join(str(p.get("text") or "") for p in item.get("summary") or () if isinstance(p, dict))


def reasoning_detail(item: dict[str, Any]) -> dict[str, Any] | None:
    if not item.get("encrypted_content"):
        return None
    return {
        "type": "reasoning.encrypted",
        "data": item["encrypted_content"],
        "id": item.get("id") or "",
        "summary": _summary(item),
        "format": FORMAT,
    }


def finish_reason(response: dict[str, Any], called: bool) -> tuple[str, str]:
    """(OpenAI chat finish_reason, the native status or incomplete reason)."""
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason") or "incomplete"
        return ("content_filter" if reason == "content_filter" else "length"), reason
    return ("tool_calls" if called else "stop"), str(response.get("status") or "completed")


def completion_from(response: dict[str, Any]) -> Completion:
    texts: list[str] = []
    refusals: list[str] = []
    thoughts: list[str] = []
    details: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for item in response.get("output") or ():
        kind = item.get("type")
        if kind == "reasoning":
            thoughts.append(_summary(item))
            detail = reasoning_detail(item)
            if detail:
                details.append(detail)
        elif kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    refusals.append(part.get("refusal") or "")
        elif kind == "function_call":
            function = {"name": item.get("name") or "", "arguments": item.get("arguments") or ""}
            calls.append({"id": item.get("call_id") or "", "type": "function", "function": function})
    finish, native = finish_reason(response, bool(calls))
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not (calls or refusals) else None,
        "refusal": "".join(refusals) or None,
    }
    if calls:
        message["tool_calls"] = calls
    if any(thoughts):
        message["reasoning"] = "".join(thoughts)
    if details:
        message["reasoning_details"] = details
    choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
    return Completion(
        choices=[choice],
        usage=usage_from(response.get("usage")) or Usage(),
        native_finish_reason=native,
        upstream_id=str(response.get("id") or ""),
    )


class StreamState:
    """Responses stream events as canonical deltas."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}  # function_call item id -> canonical tool-call index
        self.response: dict[str, Any] | None = None  # the last response.completed/incomplete

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]] | None:
        kind = event.get("type")
        if kind == "response.output_text.delta" and event.get("delta"):
            return [delta_choice({"content": event["delta"]})]
        if kind == "response.refusal.delta" and event.get("delta"):
            return [delta_choice({"refusal": event["delta"]})]
        if kind == "response.reasoning_summary_text.delta" and event.get("delta"):
            return [delta_choice({"reasoning": event["delta"]})]
        if kind == "response.output_item.added" and (event.get("item") or {}).get("type") == "function_call":
            item = event["item"]
            index = self.calls[item.get("id") or ""] = len(self.calls)
            call = {
                "index": index,
                "id": item.get("call_id") or "",
                "type": "function",
                "function": {"name": item.get("name") or "", "arguments": item.get("arguments") or ""},
            }
            return [delta_choice({"tool_calls": [call]})]
        if kind == "response.function_call_arguments.delta" and event.get("delta"):
            index = self.calls.get(event.get("item_id") or "")
            if index is None:
                return None
            return [
                delta_choice({"tool_calls": [{"index": index, "function": {"arguments": event["delta"]}}]})
            ]
        if kind == "response.output_item.done" and (event.get("item") or {}).get("type") == "reasoning":
            detail = reasoning_detail(event["item"])
            return [delta_choice({"reasoning_details": [detail]})] if detail else None
        if kind in ("response.completed", "response.incomplete"):
            self.response = event.get("response") or {}
            return None
        if kind in ("response.failed", "error"):
            error = (event.get("response") or {}).get("error") or event
            message = error.get("message") if isinstance(error, dict) else None
            raise UpstreamError("server", f"upstream response failed: {message or 'no reason given'}")
        return None

    def end(self) -> tuple[list[dict[str, Any]], StreamEnd]:
        response = self.response or {}
        finish, native = finish_reason(response, bool(self.calls))
        end = StreamEnd(
            usage=usage_from(response.get("usage")),
            finish_reason=finish,
            native_finish_reason=native,
            upstream_id=str(response.get("id") or ""),
        )
        return [delta_choice({}, finish_reason=finish)], end


async def complete(wire: Wire, request: dict[str, Any], target: Target) -> Completion:
    async with wire.post(build_body(request, target, stream=False), PATH) as response:
        await wire.raise_for_status(response)
        data = orjson.loads(await response.read())
    if not isinstance(data, dict) or not isinstance(data.get("output"), list):
        raise TypeError("a Responses answer without output")
    if data.get("status") == "failed":
        raise UpstreamError("server", f"upstream response failed: {(data.get('error') or {}).get('message')}")
    return completion_from(data)


async def stream(wire: Wire, request: dict[str, Any], target: Target) -> AsyncIterator[StreamItem]:
    state = StreamState()
    async with wire.post(build_body(request, target, stream=True), PATH) as response:
        await wire.raise_for_status(response)
        try:
            async for line in lines(response):
                if not line.startswith(b"data:"):
                    continue
                deltas = state.feed(orjson.loads(line[5:].strip()))
                if deltas:
                    yield deltas
                if state.response is not None:
                    break
        except LineTooLong as exc:
            raise UpstreamError("bad_response", f"{target.provider_name} sent {exc}.") from exc
    if state.response is None:
        raise UpstreamError("connect", f"{target.provider_name} closed the stream before it ended.")
    last, end = state.end()
    yield last
    yield end
