"""A fake OpenAI server: ``POST /v1/chat/completions`` in JSON and SSE, scripted per request.

Behaviours (push names, or dicts with a ``kind`` and options, onto ``FakeUpstream.script``):

- ``normal``: echo the last user message (``{"kind": "normal", "text": "..."}`` answers that text).
- ``tools``: call the first tool given with ``{"kind": "tools", "arguments": {...}}``.
- ``slow_first_byte``: wait ``delay`` seconds (default 1) before answering.
- ``rate_limit``: 429 with ``Retry-After: <retry_after>`` (default 7).
- ``server_error``: 500 with OpenAI's error body.
- ``malformed``: 200 whose body is not JSON (or, streaming, a chunk that is not JSON).
- ``drop``: stream a few chunks, then cut the connection.
- ``stall``: stream a few chunks, then go silent for ``delay`` seconds (default 30).
- ``no_usage``: stream without the usage chunk, whatever the client asked.
- ``error_mid_stream``: stream a few chunks, then ``data: {"error": {...}}``.
- ``POST /v1/responses`` (OpenAI's Responses API) takes ``normal``, ``tools``, ``refusal``, the
  error behaviours, and ``reasoning``: a reasoning item (summary and ``encrypted_content``
  ``enc-<fake_reasoning_id(body)>``) before the answer; usage as for chat, the reasoning
  counted in reasoning_tokens.
- ``refusal``: the model refuses (``refusal`` instead of ``content``; ``{"kind": "refusal", "text": ...}``).
- ``chunk_delay``: any behaviour may carry ``chunk_delay`` (seconds between chunks).
- ``prompt_tokens``: any behaviour may carry it: the prompt tokens reported instead of the count.

``POST /v1/embeddings`` answers one deterministic unit vector per input (``embedding_for``:
``EMBED_DIMENSIONS`` values, or ``dimensions``), as floats or base64 of float32 as asked, with
``usage.prompt_tokens`` (a token array counts its length). Behaviours: ``normal``,
``rate_limit``, ``server_error``, ``auth``, ``malformed``, ``no_usage``, ``{"kind": "normal",
"prompt_tokens": n}`` (reports n tokens whatever the input).

Usage counts use one token per four characters (the same rule as ``gateway.pipeline.tokens``):
prompt = sum over messages of (3 + text tokens), completion = tokens of the answer.
Chunks are pre-encoded with orjson so the fake stays fast enough to be a benchmark baseline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
import time
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.server import FakeUpstream, unit_vector

WORDS_PER_CHUNK = 3
REFUSAL = "I'm sorry, I can't help with that."
EMBED_DIMENSIONS = 1536


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _prompt_tokens(body: dict[str, Any]) -> int:
    return sum(3 + _tokens(_text_of(m.get("content"))) for m in body.get("messages") or ())


def _answer(body: dict[str, Any], behaviour: dict[str, Any]) -> str:
    if "text" in behaviour:
        return behaviour["text"]
    for message in reversed(body.get("messages") or ()):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _error(status: int, message: str, type_: str, code: str | None, headers: dict[str, str] | None = None):
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def _tool_call(body: dict[str, Any], behaviour: dict[str, Any]) -> dict[str, Any]:
    name = (body.get("tools") or [{"function": {"name": "get_weather"}}])[0]["function"]["name"]
    arguments = orjson.dumps(behaviour.get("arguments", {"city": "Paris"})).decode()
    return {"id": "call_fake_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def embedding_for(item: Any, dimensions: int = EMBED_DIMENSIONS) -> list[float]:
    """The fake's vector for one input (a text or a token array)."""
    return unit_vector(orjson.dumps(item), dimensions)


def _embeddings(fake: FakeUpstream, body: Any, behaviour: dict[str, Any]) -> web.Response:
    kind = behaviour.get("kind", "normal")
    if kind in _STATUS_ERRORS:
        return _STATUS_ERRORS[kind]()
    if not isinstance(body, dict) or "input" not in body:
        return _error(400, "'input' is a required property", "invalid_request_error", None)
    inputs = body["input"]
    if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
        inputs = [inputs]
    dimensions = body.get("dimensions") or EMBED_DIMENSIONS
    data = []
    for i, item in enumerate(inputs):
        vector = embedding_for(item, dimensions)
        encoded: Any = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    tokens = behaviour.get("prompt_tokens")
    if tokens is None:
        tokens = sum(_tokens(item) if isinstance(item, str) else len(item) for item in inputs)
    payload: dict[str, Any] = {"object": "list", "data": data, "model": body.get("model", "")}
    if kind != "no_usage":
        payload["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
    if kind == "malformed":
        return web.Response(status=200, body=b'{"object": "list", "data": [', content_type="application/json")
    return web.Response(
        body=orjson.dumps(payload), content_type="application/json", headers={"x-request-id": "req_fake_emb"}
    )


_STATUS_ERRORS = {
    "rate_limit": lambda: _error(
        429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {"Retry-After": "7"}
    ),
    "server_error": lambda: _error(
        500, "The server had an error while processing your request.", "server_error", None
    ),
    "auth": lambda: _error(
        401, "Incorrect API key provided: sk-test***1234.", "invalid_request_error", "invalid_api_key"
    ),
}


def make_app(fake: FakeUpstream) -> web.Application:
    async def embeddings(request: web.Request) -> web.Response:
        body = await fake.record(request)
        behaviour = fake.next_behaviour()
        return _embeddings(fake, body, {"kind": behaviour} if isinstance(behaviour, str) else behaviour)

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await fake.record(request)
        behaviour = fake.next_behaviour()
        if isinstance(behaviour, str):
            behaviour = {"kind": behaviour}
        kind = behaviour.get("kind", "normal")
        if body is None or not isinstance(body, dict):
            return _error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error", None
            )
        if kind == "slow_first_byte":
            await asyncio.sleep(behaviour.get("delay", 1.0))
        if kind == "rate_limit":
            return _error(
                429,
                "Rate limit reached for requests",
                "requests",
                "rate_limit_exceeded",
                {"Retry-After": str(behaviour.get("retry_after", 7))},
            )
        if kind == "server_error":
            return _error(500, "The server had an error while processing your request.", "server_error", None)
        if kind == "auth":
            return _error(
                401, "Incorrect API key provided: sk-test***1234.", "invalid_request_error", "invalid_api_key"
            )
        model = body.get("model", "")
        if body.get("stream"):
            return await _stream(request, fake, body, behaviour, kind, model)
        if kind == "malformed":
            return web.Response(
                status=200, body=b'{"id": "chatcmpl-x", "choices": [', content_type="application/json"
            )
        if kind == "tools":
            message = {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [_tool_call(body, behaviour)],
            }
            completion, finish = _tokens(message["tool_calls"][0]["function"]["arguments"]), "tool_calls"
        elif kind == "refusal":
            refusal = behaviour.get("text", REFUSAL)
            message = {"role": "assistant", "content": None, "refusal": refusal}
            completion, finish = _tokens(refusal), "stop"
        else:
            text = _answer(body, behaviour)
            limit = body.get("max_completion_tokens") or body.get("max_tokens")
            finish = "stop"
            if limit and _tokens(text) > limit:
                text, finish = text[: limit * 4], "length"
            message = {"role": "assistant", "content": text, "refusal": None}
            completion = _tokens(text)
        payload = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(behaviour.get("prompt_tokens", _prompt_tokens(body)), completion),
        }
        return web.Response(
            body=orjson.dumps(payload), content_type="application/json", headers={"x-request-id": "req_fake"}
        )

    async def responses(request: web.Request) -> web.StreamResponse:
        body = await fake.record(request)
        behaviour = fake.next_behaviour()
        behaviour = {"kind": behaviour} if isinstance(behaviour, str) else behaviour
        kind = behaviour.get("kind", "normal")
        if kind in _STATUS_ERRORS:
            return _STATUS_ERRORS[kind]()
        if not isinstance(body, dict) or "input" not in body:
            return _error(400, "Missing required parameter: 'input'.", "invalid_request_error", None)
        response = _responses_answer(body, behaviour, kind, len(fake.requests))
        if not body.get("stream"):
            return web.Response(body=orjson.dumps(response), content_type="application/json")
        return await _responses_stream(request, response)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/responses", responses)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/embeddings", embeddings)
    return app


def _input_text(body: dict[str, Any]) -> str:
    """The last user message's text of a Responses request."""
    items = body["input"]
    if isinstance(items, str):
        return items
    for item in reversed(items):
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "".join(p.get("text", "") for p in content if p.get("type") == "input_text")
    return ""


def fake_reasoning_id(body: dict[str, Any]) -> str:
    """What names the fake's reasoning for a request: the same input, the same reasoning."""
    return hashlib.sha256(orjson.dumps(body.get("input"))).hexdigest()[:12]


def _responses_answer(body: dict[str, Any], behaviour: dict[str, Any], kind: str, n: int) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    reasoning = 0
    if kind == "reasoning":
        summary = "Thinking about it."
        output.append(
            {
                "type": "reasoning",
                "id": f"rs_{fake_reasoning_id(body)}",
                "summary": [{"type": "summary_text", "text": summary}],
                "encrypted_content": f"enc-{fake_reasoning_id(body)}",
            }
        )
        reasoning = 8
    if kind == "tools":
        call = _tool_call({"tools": [{"function": t} for t in body.get("tools") or []]}, behaviour)
        function = call["function"]
        output.append(
            {
                "type": "function_call",
                "id": f"fc_fake_{n}",
                "call_id": f"call_fake_{n}",
                "name": function["name"],
                "arguments": function["arguments"],
                "status": "completed",
            }
        )
        completion = _tokens(function["arguments"])
    else:
        text = (
            behaviour.get("text", REFUSAL) if kind == "refusal" else behaviour.get("text", _input_text(body))
        )
        part = (
            {"type": "refusal", "refusal": text}
            if kind == "refusal"
            else {"type": "output_text", "text": text, "annotations": []}
        )
        message = {"type": "message", "id": f"msg_fake_{n}", "role": "assistant", "status": "completed"}
        output.append({**message, "content": [part]})
        completion = _tokens(text) + reasoning
    prompt = 3 + _tokens(json.dumps(body["input"]))
    return {
        "id": f"resp_fake_{n}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": body.get("model", ""),
        "output": output,
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": prompt + completion,
        },
    }


async def _responses_stream(request: web.Request, response: dict[str, Any]) -> web.StreamResponse:
    """The answer as Responses' typed events (each item whole after its deltas)."""
    stream = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
    await stream.prepare(request)
    sequence = iter(range(1_000_000))

    async def send(kind: str, **payload: Any) -> None:
        data = {"type": kind, "sequence_number": next(sequence), **payload}
        await stream.write(f"event: {kind}\ndata: ".encode() + orjson.dumps(data) + b"\n\n")

    started = {**response, "status": "in_progress", "output": [], "usage": None}
    await send("response.created", response=started)
    for index, item in enumerate(response["output"]):
        where = {"output_index": index, "item_id": item["id"]}
        if item["type"] == "reasoning":
            await send("response.output_item.added", output_index=index, item={**item, "summary": []})
            for part in item["summary"]:
                await send(
                    "response.reasoning_summary_text.delta", **where, summary_index=0, delta=part["text"]
                )
        elif item["type"] == "function_call":
            await send("response.output_item.added", output_index=index, item={**item, "arguments": ""})
            arguments = item["arguments"]
            for i in range(0, len(arguments), 6):
                await send("response.function_call_arguments.delta", **where, delta=arguments[i : i + 6])
        else:
            await send("response.output_item.added", output_index=index, item={**item, "content": []})
            part = item["content"][0]
            text = part.get("text") or part.get("refusal") or ""
            delta = (
                "response.output_text.delta" if part["type"] == "output_text" else "response.refusal.delta"
            )
            for i in range(0, len(text), 8):
                await send(delta, **where, content_index=0, delta=text[i : i + 8])
        await send("response.output_item.done", output_index=index, item=item)
    await send("response.completed", response=response)
    await stream.write_eof()
    return stream


async def _stream(
    request: web.Request,
    fake: FakeUpstream,
    body: dict[str, Any],
    behaviour: dict[str, Any],
    kind: str,
    model: str,
) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "text/event-stream", "x-request-id": "req_fake"}
    )
    await response.prepare(request)
    created = int(time.time())
    include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and kind != "no_usage"
    head = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model}
    delay = behaviour.get("chunk_delay", 0)

    def frame(choices: list[dict[str, Any]], usage: Any = None) -> bytes:
        chunk = {**head, "choices": choices}
        if include_usage:
            chunk["usage"] = usage
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    pieces: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    finish = "stop"
    if kind == "tools":
        call = _tool_call(body, behaviour)
        arguments = call["function"]["arguments"]
        pieces.append(
            {"tool_calls": [{**call, "function": {"name": call["function"]["name"], "arguments": ""}}]}
        )
        pieces.extend(
            {"tool_calls": [{"index": 0, "function": {"arguments": arguments[i : i + 6]}}]}
            for i in range(0, len(arguments), 6)
        )
        pieces[1]["tool_calls"][0]["index"] = 0
        completion, finish = _tokens(arguments), "tool_calls"
    elif kind == "refusal":
        refusal = behaviour.get("text", REFUSAL)
        pieces.extend({"refusal": refusal[i : i + 8]} for i in range(0, len(refusal), 8))
        completion = _tokens(refusal)
    else:
        text = _answer(body, behaviour)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit and _tokens(text) > limit:
            text, finish = text[: limit * 4], "length"
        words = text.split(" ")
        for i in range(0, len(words), WORDS_PER_CHUNK):
            piece = " ".join(words[i : i + WORDS_PER_CHUNK]) + (
                " " if i + WORDS_PER_CHUNK < len(words) else ""
            )
            if piece:
                pieces.append({"content": piece})
        completion = _tokens(text)

    try:
        for n, delta in enumerate(pieces):
            if delay:
                await asyncio.sleep(delay)
            if n == 2 and kind in ("drop", "stall", "error_mid_stream", "malformed"):
                await response.write(frame([{"index": 0, "delta": delta, "finish_reason": None}]))
                if kind == "drop":
                    request.transport.close()  # type: ignore[union-attr]
                    return response
                if kind == "stall":
                    await asyncio.sleep(behaviour.get("delay", 30))
                    return response
                if kind == "malformed":
                    await response.write(b"data: {not json\n\n")
                    return response
                error = {
                    "error": {
                        "message": "The model crashed mid-answer.",
                        "type": "server_error",
                        "code": None,
                    }
                }
                await response.write(b"data: " + orjson.dumps(error) + b"\n\n")
                return response
            await response.write(frame([{"index": 0, "delta": delta, "finish_reason": None}]))
        await response.write(frame([{"index": 0, "delta": {}, "finish_reason": finish}]))
        if include_usage:
            usage_chunk = {
                **head,
                "choices": [],
                "usage": _usage(behaviour.get("prompt_tokens", _prompt_tokens(body)), completion),
            }
            await response.write(b"data: " + orjson.dumps(usage_chunk) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        fake.disconnects += 1
        raise
    return response


def start_openai_upstream(**kwargs: Any) -> FakeUpstream:
    return FakeUpstream(make_app=make_app, **kwargs).start()
