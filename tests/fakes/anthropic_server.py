"""A fake Anthropic Messages API: ``POST /v1/messages``, JSON and named-event SSE.

Behaviours (``FakeUpstream.push``) are a string or a dict with a ``kind``:

- ``normal``: echoes the last user text (``"echo: <text>"``), ``end_turn``.
- ``{"kind": "text", "text": .., "stop_reason": .., "stop_sequence": ..}``: any text and stop reason
  (``length``, ``stop_sequence``, ``refusal``, ``pause_turn`` are shorthands for these).
- ``tool`` / ``{"kind": "tool", "calls": 2, "text": "..", "input": {..}}``: tool_use blocks calling the
  first declared tool with ``{"city": "Paris"}`` (``{"city": "Paris", "n": i}`` for the i-th).
- ``json``: the text ``{"answer": 42}``.
- ``usage``: a thinking block, text, and usage with cache reads, cache writes and thinking tokens.
- ``redacted``: a thinking block, a redacted_thinking block (its opaque ``data``), then text.
- ``rate_limit`` (429, retry-after 7), ``overloaded`` (529, retry-after 2), ``server_error`` (500),
  ``invalid`` (400), ``unauthorized`` (401), ``not_found`` (404), or
  ``{"kind": "status", "status": .., "type": .., "headers": {..}, "message": ..}``.
- ``{"kind": "slow", "delay": s}``: waits before the status line, then answers normally.
- ``stall`` / ``{"kind": "stall", "seconds": s}``: (stream) sends the first events, then
  goes silent (a minute by default).
- ``drop``: (stream) sends the first events then cuts the connection.
- ``malformed``: a body (or an SSE data line) that is not JSON.
- ``error_event``: (stream) sends the first events then an ``overloaded_error`` error event.

Any behaviour may carry ``input_tokens``: the prompt tokens reported (``message_start`` included).

``POST /v1/messages/count_tokens`` answers ``fake_token_count`` of the body (no behaviour consumed).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeUpstream

STATUS_SHORTHANDS = {
    "rate_limit": (429, "rate_limit_error", {"retry-after": "7"}),
    "overloaded": (529, "overloaded_error", {"retry-after": "2"}),
    "server_error": (500, "api_error", {}),
    "invalid": (400, "invalid_request_error", {}),
    "unauthorized": (401, "authentication_error", {}),
    "not_found": (404, "not_found_error", {}),
}
STOP_SHORTHANDS = {
    "length": {"text": "Once upon a", "stop_reason": "max_tokens"},
    "stop_sequence": {"text": "one two", "stop_reason": "stop_sequence", "stop_sequence": "END"},
    "refusal": {"text": "", "stop_reason": "refusal"},
    "pause_turn": {"text": "Working", "stop_reason": "pause_turn"},
    "context_exceeded": {"text": "Too", "stop_reason": "model_context_window_exceeded"},
}
BASE_USAGE = {"input_tokens": 10, "output_tokens": 5}


def _behaviour(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        if raw in STOP_SHORTHANDS:
            return {"kind": "text", **STOP_SHORTHANDS[raw]}
        return {"kind": raw}
    return dict(raw)


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content or [] if b.get("type") == "text"]
        if texts:
            return texts[-1]
    return ""


def _error(status: int, type_: str, headers: dict[str, str] | None = None, message: str = "") -> web.Response:
    error = {"type": type_, "message": message or f"fake {type_}"}
    body = {"type": "error", "error": error, "request_id": "req_fake"}
    return web.json_response(body, status=status, headers={"request-id": "req_fake", **(headers or {})})


def _plan(behaviour: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """What the answer holds: content blocks, stop reason, usage."""
    kind = behaviour["kind"]
    usage = dict(BASE_USAGE)
    stop_sequence = None
    if kind == "tool":
        tools = body.get("tools") or [{"name": "get_weather"}]
        blocks: list[dict[str, Any]] = []
        if behaviour.get("text"):
            blocks.append({"type": "text", "text": behaviour["text"]})
        calls = int(behaviour.get("calls", 1))
        for i in range(calls):
            args: dict[str, Any] = {"city": "Paris"} if calls == 1 else {"city": "Paris", "n": i}
            if "input" in behaviour:
                args = behaviour["input"]
            blocks.append({"type": "tool_use", "id": f"toolu_{i}", "name": tools[0]["name"], "input": args})
        stop_reason = "tool_use"
    elif kind == "json":
        blocks = [{"type": "text", "text": '{"answer": 42}'}]
        stop_reason = "end_turn"
    elif kind == "usage":
        blocks = [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig-1"},
            {"type": "text", "text": "Done thinking."},
        ]
        stop_reason = "end_turn"
        usage = {
            "input_tokens": 100,
            "cache_creation_input_tokens": 20,
            "cache_read_input_tokens": 30,
            "output_tokens": 50,
            "output_tokens_details": {"thinking_tokens": 20},
        }
    elif kind == "redacted":
        blocks = [
            {"type": "thinking", "thinking": "Visible part.", "signature": "sig-2"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"},
            {"type": "text", "text": "Answered."},
        ]
        stop_reason = "end_turn"
    elif kind == "text":
        text = behaviour.get("text", "")
        blocks = [{"type": "text", "text": text}] if text else []
        stop_reason = behaviour.get("stop_reason", "end_turn")
        stop_sequence = behaviour.get("stop_sequence")
    else:
        blocks = [{"type": "text", "text": f"echo: {last_user_text(body)}"}]
        stop_reason = "end_turn"
    if "input_tokens" in behaviour:  # any behaviour: the prompt tokens reported
        usage["input_tokens"] = int(behaviour["input_tokens"])
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }


def _sse(event: str, data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"event: {event}\ndata: {payload}\n\n".encode()


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _events(message: dict[str, Any]) -> list[bytes]:
    usage = message["usage"]
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens_details"} | {"output_tokens": 1}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    out = [_sse("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"])]
        elif kind == "thinking":
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "redacted_thinking":  # arrives whole in its start event, with no deltas
            opening, deltas = block, []
        else:
            opening = {**block, "input": {}}
            encoded = json.dumps(block["input"]) if block["input"] else ""  # no input: no JSON streamed
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(encoded, 7) if p]
        out.append(
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opening},
            )
        )
        if index == 0:
            out.append(_sse("ping", {"type": "ping"}))
        for delta in deltas:
            out.append(
                _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            )
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
                "usage": usage,  # cumulative, as the real API sends it
            },
        )
    )
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return out


def make_app(fake: FakeUpstream) -> web.Application:
    async def messages(request: web.Request) -> web.StreamResponse:
        body = await fake.record(request)
        behaviour = _behaviour(fake.next_behaviour())
        kind = behaviour["kind"]
        key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if not key:
            return _error(401, "authentication_error")
        if kind in STATUS_SHORTHANDS:
            status, type_, headers = STATUS_SHORTHANDS[kind]
            return _error(status, type_, headers)
        if kind == "status":
            return _error(
                behaviour["status"],
                behaviour.get("type", "api_error"),
                behaviour.get("headers"),
                behaviour.get("message", ""),
            )
        if not isinstance(body, dict):
            return _error(400, "invalid_request_error")
        if kind == "slow":
            await asyncio.sleep(float(behaviour.get("delay", 5)))
        message = _plan(behaviour, body)

        if not body.get("stream"):
            if kind == "malformed":
                return web.Response(text='{"id": "msg_fake", "content": [', content_type="application/json")
            return web.json_response(message, headers={"request-id": "req_fake"})

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "request-id": "req_fake"})
        await response.prepare(request)
        events = _events(message)
        cut = 3  # message_start, content_block_start, ping
        try:
            if kind in ("stall", "drop", "error_event", "malformed"):
                for event in events[:cut]:
                    await response.write(event)
                if kind == "stall":
                    await asyncio.sleep(float(behaviour.get("seconds", 60)))
                elif kind == "drop":
                    assert request.transport is not None
                    request.transport.close()
                    return response
                elif kind == "error_event":
                    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                    await response.write(_sse("error", error))
                else:
                    await response.write(_sse("content_block_delta", '{"type": "content_block_delta", "ind'))
                await response.write_eof()
                return response
            for event in events:
                await response.write(event)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            fake.disconnects += 1
            raise
        return response

    async def count_tokens(request: web.Request) -> web.Response:
        body = await fake.record(request)
        if not (request.headers.get("x-api-key") or request.headers.get("authorization")):
            return _error(401, "authentication_error")
        if not isinstance(body, dict) or not body.get("messages") or "max_tokens" in body:
            return _error(400, "invalid_request_error")
        return web.json_response({"input_tokens": fake_token_count(body)})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    return app


def fake_token_count(body: dict[str, Any]) -> int:
    """The fake's exact count: one token per 3 characters of the serialised prompt, plus 11."""
    prompt = {k: body[k] for k in ("system", "messages", "tools") if k in body}
    return 11 + len(json.dumps(prompt, sort_keys=True)) // 3


def anthropic_fake() -> FakeUpstream:
    return FakeUpstream(make_app=make_app)
