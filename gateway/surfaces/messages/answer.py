"""The canonical answer, stream and errors rendered in Anthropic's Messages shapes."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.pipeline.flight import Flight
from gateway.pipeline.replies import Reply, json_reply
from gateway.providers.base import Completion, UpstreamError, Usage
from gateway.surfaces.chat.stream import Relay

# Anthropic's error types by HTTP status (https://docs.anthropic.com/en/api/errors).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
NATIVE_STOP_REASONS = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)


def error_payload(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(error_payload(status, message), status=status, headers=headers)


def upstream_error_reply(flight: Flight, error: UpstreamError) -> Reply:
    headers = {"X-Generation-Id": flight.generation_id}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    status = 529 if error.kind == "overloaded" else error.status
    return error_reply(status, error.message, headers)


def stop_reason(finish_reason: str, native: str) -> str | None:
    if native in NATIVE_STOP_REASONS:
        return native
    return STOP_REASONS.get(finish_reason, "end_turn" if finish_reason else None)


def usage_payload(usage: Usage) -> dict[str, int]:
    """Anthropic's meanings: input_tokens excludes cache reads and writes."""
    return {
        "input_tokens": max(0, usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens),
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }


def _input(arguments: Any) -> Any:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def thinking_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = []
    for detail in message.get("reasoning_details") or []:
        if detail.get("type") == "reasoning.encrypted" and detail.get("data"):
            blocks.append({"type": "redacted_thinking", "data": detail["data"]})
        elif detail.get("type") == "reasoning.text":
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": detail.get("text") or "",
                    "signature": detail.get("signature") or "",
                }
            )
    if not blocks and message.get("reasoning"):
        blocks.append({"type": "thinking", "thinking": message["reasoning"], "signature": ""})
    return blocks


def message_payload(flight: Flight, completion: Completion, cost: int) -> dict[str, Any]:
    choice = completion.choices[0] if completion.choices else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = thinking_blocks(message)
    if message.get("content"):
        content.append({"type": "text", "text": str(message["content"])})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or "",
                "name": function.get("name") or "",
                "input": _input(function.get("arguments")),
            }
        )
    finish = str(choice.get("finish_reason") or "")
    return {
        "id": flight.generation_id,
        "type": "message",
        "role": "assistant",
        "model": flight.target.model_slug,
        "content": content,
        "stop_reason": stop_reason(finish, completion.native_finish_reason),
        "stop_sequence": None,
        "usage": usage_payload(completion.usage),
    }


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **payload}) + b"\n\n"


class MessagesRelay(Relay):
    """The canonical chunk stream as Anthropic's event sequence (one content block open at a time)."""

    def __init__(self, flight: Flight, items: Any) -> None:
        super().__init__(flight, items)
        self.started = False
        self.blocks = 0  # content blocks opened so far
        self.open_kind: str | None = None  # the open block's type
        self.tool_blocks: dict[int, int] = {}  # canonical tool call index -> block index

    def _start(self) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        message = {
            "id": self.flight.generation_id,
            "type": "message",
            "role": "assistant",
            "model": self.flight.target.model_slug,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [_event("message_start", {"message": message}), _event("ping", {})]

    def _close_block(self) -> list[bytes]:
        if self.open_kind is None:
            return []
        self.open_kind = None
        return [_event("content_block_stop", {"index": self.blocks - 1})]

    def _open_block(self, block: dict[str, Any]) -> list[bytes]:
        out = self._close_block()
        self.open_kind = block["type"]
        self.blocks += 1
        out.append(_event("content_block_start", {"index": self.blocks - 1, "content_block": block}))
        return out

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> bytes:
        return _event(
            "content_block_delta", {"index": self.blocks - 1 if index is None else index, "delta": delta}
        )

    def _chunk(self, choices: list[dict[str, Any]]) -> bytes:
        self._account(choices)
        out = self._start()
        for choice in choices[:1]:  # Anthropic has one answer per request
            delta = choice.get("delta") or {}
            if delta.get("reasoning"):
                if self.open_kind != "thinking":
                    out += self._open_block({"type": "thinking", "thinking": "", "signature": ""})
                out.append(self._delta({"type": "thinking_delta", "thinking": delta["reasoning"]}))
            for detail in delta.get("reasoning_details") or ():
                if detail.get("type") == "reasoning.encrypted" and detail.get("data"):
                    out += self._open_block({"type": "redacted_thinking", "data": detail["data"]})
                    out += self._close_block()
                elif detail.get("signature"):
                    if self.open_kind != "thinking":
                        out += self._open_block({"type": "thinking", "thinking": "", "signature": ""})
                    out.append(self._delta({"type": "signature_delta", "signature": detail["signature"]}))
            if delta.get("content"):
                if self.open_kind != "text":
                    out += self._open_block({"type": "text", "text": ""})
                out.append(self._delta({"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or ():
                index = call.get("index", 0)
                function = call.get("function") or {}
                if index not in self.tool_blocks:
                    block = {
                        "type": "tool_use",
                        "id": call.get("id") or "",
                        "name": function.get("name") or "",
                        "input": {},
                    }
                    out += self._open_block(block)
                    self.tool_blocks[index] = self.blocks - 1
                if function.get("arguments"):
                    delta_ = {"type": "input_json_delta", "partial_json": function["arguments"]}
                    out.append(self._delta(delta_, self.tool_blocks[index]))
        return b"".join(out)

    def error_reply(self, error: UpstreamError) -> Reply:
        return upstream_error_reply(self.flight, error)

    def closing(self, usage: Usage, cost: int) -> list[bytes]:
        out = self._start() + self._close_block()
        native = self.end.native_finish_reason if self.end else ""
        finish = (self.end.finish_reason if self.end else "") or self.finish_reason
        delta = {"stop_reason": stop_reason(finish, native), "stop_sequence": None}
        out.append(_event("message_delta", {"delta": delta, "usage": usage_payload(usage)}))
        out.append(_event("message_stop", {}))
        return out

    def failure(self, error: UpstreamError) -> list[bytes]:
        status = 529 if error.kind == "overloaded" else error.status
        return [_event("error", {"error": error_payload(status, error.message)["error"]})]
