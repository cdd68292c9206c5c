"""What the chat endpoint answers, independent of who serves it.

The chat endpoint is served two ways: straight from ASGI in production
(``gateway.asgi``: no Django request or response objects on the hot path) and as
a Django view (the test client, WSGI). Both turn the same ``Reply`` into bytes on
the wire, so the endpoint's behaviour is written once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.http import HttpResponse, StreamingHttpResponse

from promptgrid.errors import error_body

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None  # a streamed body (SSE) instead of ``body``
    content_type: str = JSON

    def __setitem__(self, name: str, value: str) -> None:
        self.headers[name] = value


def json_reply(payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, orjson.dumps(payload), dict(headers or {}))


def error_reply(
    status: int, message: str, *, headers: dict[str, str] | None = None, **fields: str | None
) -> Reply:
    """``promptgrid.errors.error_response`` for the ASGI path: the same body (``error_body``:
    ``code``, ``param``, ``type_``), as a ``Reply`` rather than a Django response."""
    return json_reply(error_body(status, message, **fields), status=status, headers=headers)


def to_django(reply: Reply) -> HttpResponse | StreamingHttpResponse:
    response: HttpResponse | StreamingHttpResponse
    if reply.stream is not None:
        response = StreamingHttpResponse(reply.stream, status=reply.status, content_type=reply.content_type)
    else:
        response = HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
    for name, value in reply.headers.items():
        response[name] = value
    return response


def asgi_headers(reply: Reply, request_id: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", reply.content_type.encode()), (b"x-request-id", request_id.encode())]
    if reply.stream is None:
        headers.append((b"content-length", str(len(reply.body)).encode()))
    headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()
    )
    return headers
