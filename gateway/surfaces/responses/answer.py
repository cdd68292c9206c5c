"""The canonical answer rendered as a Responses ``response`` object.

Output items come in the order the model produced them: reasoning, then the message
(``output_text``, or ``refusal``), then function calls. Item ids are derived from the
generation id and the item's place, so the streamed and the plain answer name them alike.
"""

from __future__ import annotations

from typing import Any

from gateway.pipeline.flight import Flight
from gateway.providers.base import Usage
from gateway.surfaces.responses import reasoning
from gateway.surfaces.responses.request import ResponsesRequest

# Why an answer stopped short, as Responses' incomplete_details.reason.
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def item_id(flight: Flight, prefix: str, index: int) -> str:
    return f"{prefix}_{flight.generation_id.removeprefix('gen-')}_{index}"


def usage_payload(usage: Usage) -> dict[str, Any]:
    """OpenAI's Responses usage: input tokens include the cached ones, output the reasoning."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def reasoning_item(flight: Flight, index: int, text: str, detail: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": item_id(flight, "rs", index),
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if detail is not None:
        item["encrypted_content"] = reasoning.seal(detail)
    return item


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(flight: Flight, index: int, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id(flight, "msg", index),
        "role": "assistant",
        "status": status,
        "content": content,
    }


def call_item(flight: Flight, index: int, call: dict[str, Any], status: str) -> dict[str, Any]:
    function = call.get("function") or {}
    name = function.get("name") or ""
    item = {
        "type": "function_call",
        "id": item_id(flight, "fc", index),
        "call_id": call.get("id") or item_id(flight, "call", index),
        "name": name,
        "arguments": function.get("arguments") or "",
        "status": status,
    }
    request = flight.request
    if isinstance(request, ResponsesRequest) and name in request.namespaced:
        item["namespace"], item["name"] = request.namespaced[name]
    return item


def output_items(flight: Flight, message: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for text, detail in reasoning.items_of(message):
        items.append(reasoning_item(flight, len(items), text, detail))
    content = []
    if message.get("content"):
        content.append(text_part(str(message["content"])))
    if message.get("refusal"):
        content.append({"type": "refusal", "refusal": str(message["refusal"])})
    if content:
        items.append(message_item(flight, len(items), content, "completed"))
    for call in message.get("tool_calls") or ():
        items.append(call_item(flight, len(items), call, "completed"))
    return items


def response_payload(
    flight: Flight,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    finish_reason: str = "",
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``response`` object: the request's settings echoed, as OpenAI's API does."""
    request = flight.request
    echo = request.echo if isinstance(request, ResponsesRequest) else {}
    incomplete = None
    if status == "completed" and finish_reason in INCOMPLETE:
        status = "incomplete"
        incomplete = {"reason": INCOMPLETE[finish_reason]}
    return {
        "id": flight.generation_id,
        "object": "response",
        "created_at": flight.created,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": echo.get("instructions"),
        "max_output_tokens": echo.get("max_output_tokens"),
        "metadata": echo.get("metadata") or {},
        "model": flight.target.model_slug,
        "provider": flight.target.provider_name,
        "output": output,
        "parallel_tool_calls": echo.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": echo.get("reasoning") or {"effort": None, "summary": None},
        "store": False,
        "temperature": echo.get("temperature"),
        "text": echo.get("text") or {"format": {"type": "text"}},
        "tool_choice": echo.get("tool_choice", "auto"),
        "tools": echo.get("tools") or [],
        "top_p": echo.get("top_p"),
        "truncation": echo.get("truncation", "disabled"),
        "usage": None if usage is None else usage_payload(usage),
        "user": echo.get("user"),
    }
