"""Fetching an http(s) image for a provider that only takes image bytes.

The URL comes from an API user, so the fetch is bounded (size cap, timeout, a few
redirects) and, unless ``IMAGE_FETCH_ALLOW_PRIVATE`` is on, refuses any host that
resolves to a loopback, private, link-local or otherwise non-public address. The
check lives in the resolver, so it also covers redirects and DNS rebinding: the
address checked is the address connected to.

One request's fetches are bounded together too: at most ``IMAGE_FETCH_MAX_URLS`` distinct
URLs (more is a 400 before any fetch), ``IMAGE_FETCH_MAX_TOTAL_BYTES`` in all, and
``IMAGE_FETCH_CONCURRENCY`` downloads at a time.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import mimetypes
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from django.conf import settings
from yarl import URL

from gateway.providers.translate import invalid

FETCH_TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 3


class PublicOnlyResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then drops non-public addresses."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        public = [r for r in results if ipaddress.ip_address(r["host"]).is_global]
        if not public:
            raise OSError(f"{host} does not resolve to a public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


def _mime_of(url: str, header: str | None) -> str:
    mime = (header or "").split(";")[0].strip().lower()
    if not mime or mime == "application/octet-stream":
        mime = mimetypes.guess_type(urlsplit(url).path)[0] or mime
    return mime


def _check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("image URLs must be http(s) or data: URLs")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    # aiohttp does not consult the resolver for an address literal.
    if not allow_private and not address.is_global:
        raise invalid(f"image URL {url} points to a non-public address")


class _Budget:
    """The bytes one request's fetches may still take, shared by all of them."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.left = total

    def take(self, size: int, url: str) -> None:
        self.left -= size
        if self.left < 0:
            raise invalid(f"the request's images are larger than {self.total} bytes in all (at {url})")


async def fetch_image(url: str, budget: _Budget | None = None) -> tuple[str, str]:
    """Download ``url`` → (mime type, base64 data); a 400 ``UpstreamError`` on any failure."""
    allow_private = bool(settings.IMAGE_FETCH_ALLOW_PRIVATE)
    cap = int(settings.IMAGE_FETCH_MAX_BYTES)
    connector_args: dict[str, Any] = {} if allow_private else {"resolver": PublicOnlyResolver()}
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
    target = url
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(**connector_args), timeout=timeout
        ) as session:
            for _hop in range(MAX_REDIRECTS + 1):
                _check_url(target, allow_private)
                async with session.get(target, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308) and response.headers.get("location"):
                        target = str(response.url.join(URL(response.headers["location"])))
                        continue
                    if response.status != 200:
                        raise invalid(f"could not fetch image {url}: HTTP {response.status}")
                    if (response.content_length or 0) > cap:
                        raise invalid(f"image {url} is larger than {cap} bytes")
                    data = bytearray()
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        data += chunk
                        if budget is not None:
                            budget.take(len(chunk), url)
                        if len(data) > cap:
                            raise invalid(f"image {url} is larger than {cap} bytes")
                    mime = _mime_of(target, response.headers.get("content-type"))
                    break
            else:
                raise invalid(f"image {url} redirects too many times")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise invalid(f"could not fetch image {url}: {exc.__class__.__name__}") from None
    if not mime.startswith("image/"):
        raise invalid(f"{url} is not an image ({mime or 'unknown type'})")
    return mime, base64.b64encode(bytes(data)).decode()


async def fetch_images(urls: list[str]) -> dict[str, tuple[str, str]]:
    """Fetch distinct URLs, a few at a time, within the request's count and byte caps."""
    unique = list(dict.fromkeys(urls))
    if len(unique) > settings.IMAGE_FETCH_MAX_URLS:
        raise invalid(f"at most {settings.IMAGE_FETCH_MAX_URLS} image URLs per request (got {len(unique)})")
    budget = _Budget(int(settings.IMAGE_FETCH_MAX_TOTAL_BYTES))
    gate = asyncio.Semaphore(int(settings.IMAGE_FETCH_CONCURRENCY))

    async def one(url: str) -> tuple[str, str]:
        async with gate:
            return await fetch_image(url, budget)

    results = await asyncio.gather(*(one(u) for u in unique))
    return dict(zip(unique, results, strict=True))
