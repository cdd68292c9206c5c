"""Forward the body to the upstream with one shared HTTP client per worker; send back its answer.

Nothing else happens here (no auth, no parsing, no database): what this costs is what
Django, the ASGI server and the HTTP client cost, the ceiling any gateway built on
them can reach. A JSON answer is read whole and returned; an event stream is relayed
chunk by chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import httpx
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

UPSTREAM_HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench-dummy"}

# One client per event loop (a worker has one loop; tests may run several).
_httpx_clients: dict[int, httpx.AsyncClient] = {}
_aiohttp_sessions: dict[int, aiohttp.ClientSession] = {}


def _loop_id() -> int:
    return id(asyncio.get_running_loop())


def httpx_client() -> httpx.AsyncClient:
    client = _httpx_clients.get(_loop_id())
    if client is None:
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(120.0, connect=10.0),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=512),
        )
        _httpx_clients[_loop_id()] = client
    return client


def aiohttp_session() -> aiohttp.ClientSession:
    session = _aiohttp_sessions.get(_loop_id())
    if session is None:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
            timeout=aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=120.0),
            auto_decompress=False,
        )
        _aiohttp_sessions[_loop_id()] = session
    return session


@csrf_exempt
async def forward_httpx(request: HttpRequest) -> HttpResponse:
    client = httpx_client()
    upstream = client.build_request(
        "POST", f"{settings.BENCH_UPSTREAM}/chat/completions", content=request.body, headers=UPSTREAM_HEADERS
    )
    response = await client.send(upstream, stream=True)
    content_type = response.headers.get("content-type", "application/json")
    if not content_type.startswith("text/event-stream"):
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return HttpResponse(body, status=response.status_code, content_type=content_type)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        finally:
            await response.aclose()

    return StreamingHttpResponse(relay(), status=response.status_code, content_type=content_type)


@csrf_exempt
async def forward_aiohttp(request: HttpRequest) -> HttpResponse:
    session = aiohttp_session()
    response = await session.post(
        f"{settings.BENCH_UPSTREAM}/chat/completions", data=request.body, headers=UPSTREAM_HEADERS
    )
    content_type = response.headers.get("Content-Type", "application/json")
    if not content_type.startswith("text/event-stream"):
        try:
            body = await response.read()
        finally:
            response.release()
        return HttpResponse(body, status=response.status, content_type=content_type)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.content.iter_any():
                yield chunk
        finally:
            response.release()

    return StreamingHttpResponse(relay(), status=response.status, content_type=content_type)
