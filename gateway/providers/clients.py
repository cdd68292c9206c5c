"""SDK clients kept per event loop, and the stream timing both adapters share.

An SDK client holds an aiohttp session, which belongs to the event loop it was made
on. A server process runs one loop, so in practice this is one client per
(provider base URL, key); keying by loop as well keeps code that runs several loops
(tests, ``async_to_sync``) from reusing a session across loops.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, TypeVar

from gateway.providers.base import UpstreamError

T = TypeVar("T")

_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[Hashable, tuple[Any, Callable[[], Awaitable[None]]]]
]
_clients = weakref.WeakKeyDictionary()


def client_for(key: Hashable, make: Callable[[], tuple[T, Callable[[], Awaitable[None]]]]) -> T:
    """The client for ``key`` on the running loop; ``make`` returns (client, async closer)."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    entry = per_loop.get(key)
    if entry is None:
        entry = per_loop[key] = make()
    return entry[0]


async def aclose_clients() -> None:
    """Close every client made on the running loop (process shutdown, test teardown)."""
    per_loop = _clients.pop(asyncio.get_running_loop(), {})
    for _client, close in per_loop.values():
        await close()


def upstream_timeout(what: str, seconds: float) -> UpstreamError:
    return UpstreamError(
        kind="timeout", status=504, message=f"The provider sent no {what} within {seconds:g}s."
    )


async def within(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """Await with a deadline, reported as a provider timeout."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise upstream_timeout(what, seconds) from None


async def paced(source: AsyncIterator[T], *, first: float, idle: float) -> AsyncIterator[T]:
    """Items of ``source``: the first within ``first`` seconds, each later one within
    ``idle`` seconds of the previous (a stalled stream becomes a timeout)."""
    iterator = aiter(source)
    limit, what = first, "first token"
    while True:
        try:
            async with asyncio.timeout(limit):
                item = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise upstream_timeout(what, limit) from None
        yield item
        limit, what = idle, "data"
