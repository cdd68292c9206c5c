"""Calling the API in-process through Django's AsyncClient from sync tests.

Tests stay sync (``async_to_sync``) so the view's ``sync_to_async`` database work runs
on the test's own thread and connection: the ``db`` fixture's transaction then covers
the request too, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient


@dataclass
class ApiResult:
    status: int
    headers: dict[str, str]
    body: bytes
    events: list[Any] = field(default_factory=list)  # parsed SSE data (dicts, or "[DONE]")
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [e for e in self.events if isinstance(e, dict)]

    @property
    def text(self) -> str:
        return "".join(
            (c.get("delta") or {}).get("content") or "" for e in self.chunks for c in e.get("choices", [])
        )


def parse_sse(raw: bytes) -> tuple[list[Any], list[str]]:
    events: list[Any] = []
    comments: list[str] = []
    for block in raw.decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith(":"):
                comments.append(line[1:].strip())
            elif line.startswith("data: "):
                data = line[6:]
                events.append(data if data == "[DONE]" else orjson.loads(data))
    return events, comments


async def _call(*args: Any, **kwargs: Any) -> ApiResult:
    from gateway.providers.clients import aclose_clients

    try:
        return await _request(*args, **kwargs)
    finally:
        await aclose_clients()  # this event loop ends with the call


async def _request(
    body: Any,
    secret: str | None,
    *,
    path: str = "/api/v1/chat/completions",
    stop_after: int | None = None,
    raw: bytes | None = None,
    method: str = "post",
    extra: dict[str, str] | None = None,
) -> ApiResult:
    client = AsyncClient()
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    headers.update(extra or {})
    if method == "get":
        response = await client.get(path, body or {}, headers=headers)
    else:
        data = raw if raw is not None else orjson.dumps(body)
        response = await client.post(path, data=data, content_type="application/json", headers=headers)
    result_headers = {k.lower(): v for k, v in response.items()}
    if not response.streaming:
        return ApiResult(response.status_code, result_headers, response.content)
    parts: list[bytes] = []
    stream = response._iterator  # the test client's closing wrapper around the view's generator
    view_stream = stream.ag_frame.f_locals["iterable"].ag_frame.f_locals["_iterator"]
    seen = 0
    try:
        async for part in stream:
            parts.append(part)
            if part.startswith((b"data: ", b"event: ")):  # an event (named ones: Anthropic's)
                seen += 1
            if stop_after is not None and seen >= stop_after:
                break  # the client hangs up here
    finally:
        # Django's wrappers leave closing the view's own generator to garbage collection, which
        # here would come after this event loop ends; close it now, as a server does when the
        # client hangs up, so its settlement runs inside this test's transaction.
        await view_stream.aclose()
        await stream.aclose()
    raw_body = b"".join(parts)
    events, comments = parse_sse(raw_body)
    return ApiResult(response.status_code, result_headers, raw_body, events, comments)


@pytest.fixture
def call_api():
    """``call_api(body, secret, stop_after=None, raw=None, path=..., method=...) -> ApiResult``."""
    return async_to_sync(_call)


def chat(model: str = "mock/echo", text: str = "Hello there, gateway!", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **fields}
