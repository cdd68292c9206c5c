"""A harness for fake upstream servers: real HTTP on 127.0.0.1, scripted per test.

Each fake protocol (``openai_server``, ``anthropic_server``, ``gemini_server``)
builds an ``aiohttp.web.Application`` whose handlers read the next behaviour
from ``FakeUpstream.script`` and record what they received in ``.requests``.
The server runs on its own event loop in a daemon thread, so it serves sync
tests, async tests and subprocesses alike, and stops when the fixture ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def unit_vector(seed: bytes, dimensions: int) -> list[float]:
    """A fake embedding: ``dimensions`` float32-exact values of unit length, from ``seed``'s SHA-256."""
    raw = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(dimensions // 32 + 1))
    values = [(byte - 127.5) / 127.5 for byte in raw[:dimensions]]
    norm = math.sqrt(sum(v * v for v in values))
    return list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f", *(v / norm for v in values))))


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


@dataclass
class FakeUpstream:
    """A running fake. ``script`` holds behaviours consumed one per request;
    when it is empty, ``default`` is used."""

    make_app: Callable[[FakeUpstream], web.Application]
    default: Any = "normal"
    script: deque = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    # Set by handlers when a client went away mid-stream (for disconnect tests).
    disconnects: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def next_behaviour(self) -> Any:
        return self.script.popleft() if self.script else self.default

    def push(self, *behaviours: Any) -> None:
        self.script.extend(behaviours)

    async def record(self, request: web.Request) -> Any:
        try:
            body = await request.json()
        except Exception:
            body = None
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                json=body,
            )
        )
        return body

    def start(self) -> FakeUpstream:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                self._runner = web.AppRunner(self.make_app(self), access_log=None)
                await self._runner.setup()
                site = web.TCPSite(self._runner, self.host, self.port)
                await site.start()
                self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

            loop.run_until_complete(boot())
            # Ready only once run_forever runs: a stop() sent earlier would be consumed
            # by run_until_complete and the loop would then never stop.
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
