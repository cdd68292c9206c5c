"""Offline, deterministic models: no SDK, no network.

- ``echo`` (upstream model name ending in ``echo``) answers the text of the last
  user message.
- ``lorem`` (any other name) answers deterministic filler up to max_tokens.
- Tool calls: when ``tools`` are given and ``tool_choice`` is not "none", the mock
  calls a tool if ``tool_choice`` forces one ("required" or a named function), or if
  the last user message says ``call <tool name>``. Its arguments are the first
  ``{...}`` JSON object in that message, else ``{}``. When the last message is a
  tool result, it answers ``<tool name> returned: <result>``.
- Tokens are counted by ``gateway.pipeline.tokens`` (one per four characters). Output is cut
  at max_tokens with finish_reason "length".
- Streams send a few words per chunk; ``mock_delay_ms`` in the request (0–10000)
  sleeps that long before each chunk.
- Embeddings (``embed``): a unit vector of ``EMBED_DIMENSIONS`` float32 values derived from
  the SHA-256 of each input, so the same text always gets the same vector; ``dimensions``
  keeps that many leading values, renormalised, as OpenAI's text-embedding-3 models do.
  A text costs its ``count_tokens``, a token array its length.
"""

from __future__ import annotations

import array
import asyncio
import hashlib
import math
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from catalog.targets import Target
from gateway.pipeline.tokens import CHARS_PER_TOKEN, content_text, count_prompt_tokens, count_tokens
from gateway.providers.base import Completion, Embeddings, StreamEnd, StreamItem, UpstreamError, Usage

LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
    "et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut "
    "aliquip ex ea commodo consequat"
).split()
WORDS_PER_CHUNK = 3
EMBED_DIMENSIONS = 256
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def _last(messages: list[dict[str, Any]], role: str) -> dict[str, Any] | None:
    for message in reversed(messages):
        if message.get("role") == role:
            return message
    return None


def _tool_name_for(call_id: str, messages: list[dict[str, Any]]) -> str:
    for message in messages:
        for call in message.get("tool_calls") or ():
            if call.get("id") == call_id:
                return str(call.get("function", {}).get("name", "tool"))
    return "tool"


def _tool_call(request: dict[str, Any]) -> dict[str, Any] | None:
    tools = request.get("tools") or []
    choice = request.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    user = _last(request["messages"], "user")
    text = content_text(user.get("content")) if user else ""
    names = [t["function"]["name"] for t in tools]
    name = None
    if isinstance(choice, dict):
        name = choice["function"]["name"]
    else:
        lowered = text.lower()
        name = next((n for n in names if f"call {n.lower()}" in lowered), None)
        if name is None and choice == "required":
            name = names[0]
    if name is None:
        return None
    arguments = "{}"
    match = _JSON_OBJECT.search(text)
    if match:
        try:
            arguments = orjson.dumps(orjson.loads(match.group(0))).decode()
        except orjson.JSONDecodeError:
            arguments = "{}"
    digest = hashlib.sha256(f"{name}:{arguments}:{len(request['messages'])}".encode()).hexdigest()[:24]
    return {"id": f"call_{digest}", "type": "function", "function": {"name": name, "arguments": arguments}}


def _answer_text(request: dict[str, Any], target: Target) -> str:
    messages = request["messages"]
    if messages[-1].get("role") == "tool":
        last = messages[-1]
        name = _tool_name_for(str(last.get("tool_call_id")), messages)
        return f"{name} returned: {content_text(last.get('content'))}"
    if target.upstream_model.endswith("echo"):
        user = _last(messages, "user")
        return content_text(user.get("content")) if user else ""
    words = []
    budget = request["max_tokens"] * CHARS_PER_TOKEN
    size = 0
    i = 0
    while size < budget:
        word = LOREM[i % len(LOREM)]
        words.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(words)


def _cut(text: str, max_tokens: int) -> tuple[str, bool]:
    limit = max_tokens * CHARS_PER_TOKEN
    return (text[:limit], True) if len(text) > limit else (text, False)


def _plan(request: dict[str, Any], target: Target) -> tuple[str, dict[str, Any] | None, str, Usage]:
    call = _tool_call(request) if request["messages"][-1].get("role") != "tool" else None
    if call is not None:
        text, finish = "", "tool_calls"
        produced = count_tokens(call["function"]["name"]) + count_tokens(call["function"]["arguments"])
    else:
        text, cut = _cut(_answer_text(request, target), request["max_tokens"])
        finish = "length" if cut else "stop"
        produced = count_tokens(text)
    n = request.get("n") or 1
    usage = Usage(
        prompt_tokens=count_prompt_tokens(request["messages"], request.get("tools")),
        completion_tokens=produced * n,
    )
    return text, call, finish, usage


def _upstream_id(request: dict[str, Any]) -> str:
    return "mock-" + hashlib.sha256(orjson.dumps(request["messages"])).hexdigest()[:16]


def embedding_of(item: str | list[int], dimensions: int = EMBED_DIMENSIONS) -> list[float]:
    """The mock's vector for one input: deterministic, unit length, float32-exact."""
    seed = (item if isinstance(item, str) else orjson.dumps(item).decode()).encode()
    raw = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(dimensions // 32 + 1))
    values = [(byte - 127.5) / 127.5 for byte in raw[:dimensions]]
    norm = math.sqrt(sum(v * v for v in values))
    return array.array("f", (v / norm for v in values)).tolist()


class MockAdapter:
    async def embed(self, request: dict[str, Any], target: Target) -> Embeddings:
        dimensions = request.get("dimensions") or EMBED_DIMENSIONS
        if dimensions > EMBED_DIMENSIONS:
            raise UpstreamError(
                "invalid_request",
                f"{target.model_slug} makes vectors of at most {EMBED_DIMENSIONS} dimensions.",
                status=400,
            )
        delay = request.get("mock_delay_ms", 0) / 1000
        if delay:
            await asyncio.sleep(delay)
        inputs = request["input"]
        tokens = sum(count_tokens(i) if isinstance(i, str) else len(i) for i in inputs)
        digest = hashlib.sha256(orjson.dumps(inputs)).hexdigest()[:16]
        return Embeddings(
            vectors=[embedding_of(i, dimensions) for i in inputs],
            usage=Usage(prompt_tokens=tokens),
            upstream_id=f"mock-emb-{digest}",
        )

    async def complete(self, request: dict[str, Any], target: Target) -> Completion:
        text, call, finish, usage = _plan(request, target)
        delay = request.get("mock_delay_ms", 0) / 1000
        if delay:
            await asyncio.sleep(delay)
        message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
        if call is not None:
            message["tool_calls"] = [call]
        else:
            message["content"] = text
        choices = [
            {"index": i, "message": dict(message), "finish_reason": finish, "logprobs": None}
            for i in range(request.get("n") or 1)
        ]
        return Completion(
            choices=choices, usage=usage, native_finish_reason=finish, upstream_id=_upstream_id(request)
        )

    async def stream(self, request: dict[str, Any], target: Target) -> AsyncIterator[StreamItem]:
        text, call, finish, usage = _plan(request, target)
        delay = request.get("mock_delay_ms", 0) / 1000
        n = request.get("n") or 1
        if delay:
            await asyncio.sleep(delay)
        yield [
            {"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            for i in range(n)
        ]
        if call is not None:
            head = {
                "index": 0,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            yield [{"index": i, "delta": {"tool_calls": [head]}, "finish_reason": None} for i in range(n)]
            args = call["function"]["arguments"]
            for start in range(0, len(args), 8):
                if delay:
                    await asyncio.sleep(delay)
                piece = {"index": 0, "function": {"arguments": args[start : start + 8]}}
                yield [
                    {"index": i, "delta": {"tool_calls": [piece]}, "finish_reason": None} for i in range(n)
                ]
        else:
            words = text.split(" ")
            for start in range(0, len(words), WORDS_PER_CHUNK):
                if delay:
                    await asyncio.sleep(delay)
                piece = " ".join(words[start : start + WORDS_PER_CHUNK])
                if start + WORDS_PER_CHUNK < len(words):
                    piece += " "
                if piece:
                    yield [{"index": i, "delta": {"content": piece}, "finish_reason": None} for i in range(n)]
        yield [{"index": i, "delta": {}, "finish_reason": finish} for i in range(n)]
        yield StreamEnd(
            usage=usage, finish_reason=finish, native_finish_reason=finish, upstream_id=_upstream_id(request)
        )
