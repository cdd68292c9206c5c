"""The OpenAI adapter's raw wire against a real HTTP server on 127.0.0.1.

What the SDK used to do for the adapter must still happen: its headers and
authentication on every request, its exception classes for error statuses, and
streams read correctly however the server cuts them into packets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from gateway.providers.base import StreamEnd, UpstreamError
from gateway.providers.openai import OpenAIAdapter
from gateway.providers.openai_wire import MAX_LINE_BYTES
from gateway.tests.providers.conftest import make_target
from tests.fakes.server import FakeUpstream

REQUEST = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "temperature": 0}


def _chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-wire",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }


def _app(fake: FakeUpstream) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        await fake.record(request)
        behaviour = fake.next_behaviour()
        if behaviour == "rate_limited":
            return web.json_response(
                {"error": {"message": "slow down", "type": "rate_limit"}},
                status=429,
                headers={"retry-after": "3", "x-request-id": "req_429"},
            )
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        if behaviour == "long_line":
            await response.write(b"data: " + b"x" * (MAX_LINE_BYTES + 10))
            return response
        events = [_chunk("Hel"), _chunk("lo"), _chunk("", "stop")]
        events.append({**_chunk(""), "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
        wire = b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in events) + b"data: [DONE]\r\n\r\n"
        # Cut the stream at awkward places: inside "data:", inside the JSON, between \r and \n.
        for start in range(0, len(wire), 7):
            await response.write(wire[start : start + 7])
            await asyncio.sleep(0)
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(_app) as fake:
        yield fake


def _target(fake: FakeUpstream):
    return make_target(f"{fake.url}/v1", "openai", upstream_model="gpt-wire", api_key="sk-wire-secret-123")


async def test_a_stream_cut_into_small_packets_reads_whole(upstream: FakeUpstream) -> None:
    items = [item async for item in OpenAIAdapter().stream(REQUEST, _target(upstream))]
    texts = [choice["delta"]["content"] for item in items[:-1] for choice in item]
    assert "".join(texts) == "Hello"
    end = items[-1]
    assert isinstance(end, StreamEnd)
    assert end.finish_reason == "stop"
    assert (end.usage.prompt_tokens, end.usage.completion_tokens) == (3, 2)
    assert end.upstream_id == "chatcmpl-wire"


async def test_requests_carry_the_sdk_headers_and_body(upstream: FakeUpstream) -> None:
    [item async for item in OpenAIAdapter().stream(REQUEST, _target(upstream))]
    sent = upstream.requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-wire-secret-123"
    assert sent.headers["user-agent"].startswith("AsyncOpenAI/Python")
    assert sent.headers["x-stainless-retry-count"] == "0"
    usage_asked = {"include_usage": True}
    assert sent.json == {**REQUEST, "model": "gpt-wire", "stream": True, "stream_options": usage_asked}


async def test_an_error_status_is_the_sdks_error_with_retry_after(upstream: FakeUpstream) -> None:
    upstream.push("rate_limited")
    with pytest.raises(UpstreamError) as caught:
        await OpenAIAdapter().complete(REQUEST, _target(upstream))
    error = caught.value
    assert (error.kind, error.status, error.retry_after) == ("rate_limit", 429, 3.0)
    assert "slow down" in error.message
    assert error.extra["request_id"] == "req_429"
    assert "sk-wire-secret-123" not in error.message


async def test_an_endless_line_is_refused_not_buffered(upstream: FakeUpstream) -> None:
    upstream.push("long_line")
    with pytest.raises(UpstreamError) as caught:
        [item async for item in OpenAIAdapter().stream(REQUEST, _target(upstream))]
    assert caught.value.kind == "bad_response"
