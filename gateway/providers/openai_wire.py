"""The OpenAI wire: the SDK's client configures the call, aiohttp carries the bytes.

When the upstream already speaks OpenAI's protocol the gateway has nothing to
translate, so building the request through ``client.chat.completions.create`` is
pure cost: the SDK transforms every message through its TypedDicts, builds an
httpx request, merges headers and wraps the aiohttp transport in httpx's client,
about 2.4 ms of CPU per request here (41 % of a worker's CPU in a py-spy profile).

``Wire`` takes from an ``AsyncOpenAI`` client, once, what the SDK would send: the
base URL, its authentication and default headers (User-Agent, X-Stainless-*) and
its timeouts. Each request then is one aiohttp POST of the body already serialised
by orjson, and the answer comes back as bytes. An error status still becomes the
SDK's own exception (``RateLimitError``, ``AuthenticationError``…) through the
client's ``_make_status_error_from_response``, so error handling is the SDK's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2
import openai
from openai._types import Omit

# A stream's line longer than this is not an SSE event any server sends: refuse it
# rather than buffer without bound.
MAX_LINE_BYTES = 8 * 1024 * 1024


class LineTooLong(Exception):
    pass


class Wire:
    """One upstream (base URL, key, timeouts) on the running loop: headers and a session."""

    def __init__(self, client: openai.AsyncOpenAI, *, connect: float, read: float) -> None:
        self.client = client
        self.base_url = str(client.base_url).rstrip("/")
        self.url = self.base_url + "/chat/completions"
        headers: dict[str, str] = {}
        for name, value in {**client.auth_headers, **client.default_headers}.items():
            if not isinstance(value, Omit):
                headers[name] = str(value)
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json"
        headers["X-Stainless-Retry-Count"] = "0"  # the gateway decides retries, not the SDK
        headers["X-Stainless-Read-Timeout"] = str(read)
        self.headers = headers
        # connect: DNS and the TCP (and TLS) handshake together; sock_read: each gap in the answer.
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=connect, sock_connect=connect, sock_read=read
        )
        # No per-host connection cap: concurrency is bounded by the gateway's own holds.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300), auto_decompress=True
        )

    def post(self, body: bytes, path: str = "") -> Any:
        """``async with wire.post(body) as response``: the response is not read yet. ``path``
        (``/embeddings``) replaces chat completions' under the same base URL."""
        url = self.base_url + path if path else self.url
        return self.session.post(url, data=body, headers=self.headers, timeout=self.timeout)

    async def raise_for_status(self, response: aiohttp.ClientResponse) -> None:
        """An error status as the SDK's exception for it (body, headers and request id kept)."""
        if response.status < 400:
            return
        content = await response.read()
        sdk_response = httpx2.Response(
            response.status,
            headers=list(response.raw_headers),
            content=content,
            request=httpx2.Request("POST", self.url),
        )
        raise self.client._make_status_error_from_response(sdk_response)

    async def close(self) -> None:
        await self.session.close()
        await self.client.close()


async def lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body's lines without their line ends, as they arrive (any chunking, any length)."""
    buffer = b""
    async for data in response.content.iter_any():
        buffer = buffer + data if buffer else data
        if b"\n" not in data:
            if len(buffer) > MAX_LINE_BYTES:
                raise LineTooLong(f"a stream line longer than {MAX_LINE_BYTES} bytes")
            continue
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line[:-1] if line.endswith(b"\r") else line
    if buffer:
        yield buffer[:-1] if buffer.endswith(b"\r") else buffer
