"""The request id: read from a sane ``X-Request-Id`` or made here, returned as ``x-request-id``.

The id lives in a context variable, so every log record written while the request
runs (in the event loop or in a ``sync_to_async`` thread, which copies the context)
carries it, and in ``request.request_id`` for views that pass it on explicitly.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

_request_id: ContextVar[str] = ContextVar("promptgrid_request_id", default="")

# Ids from a trusted proxy or a client: short, printable, no spaces (nothing to inject into logs).
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$")

# Probes and scrapes arrive every few seconds; an access line each would drown the rest.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

access_log = logging.getLogger("promptgrid.access")


def current_request_id() -> str:
    """The id of the request being served in this context, or "" outside a request."""
    return _request_id.get()


def use_request_id(request_id: str) -> None:
    """Stamp this context (one request's task) with ``request_id``."""
    _request_id.set(request_id)


def new_request_id() -> str:
    return f"req-{os.urandom(16).hex()}"  # 128 random bits, as a uuid4 has, at half the cost


def request_id_from_header(value: str | None) -> str:
    if value and _SANE_ID.match(value):
        return value
    return new_request_id()


class RequestIdMiddleware:
    """Outermost middleware: sets the request id, returns it, and writes one access line.

    Both sync and async capable so it never forces the async API path into a thread.
    The context variable is not reset on the way out: Django logs the response (a 4xx
    warning, a 5xx error) after this returns, and a streamed body is iterated later
    still; those lines must carry the id too. Under ASGI each request runs in its own
    task with its own context, so an id cannot leak into the next request.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        started = self._start(request)
        response = self.get_response(request)
        return self._finish(request, response, started)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started = self._start(request)
        response = await self.get_response(request)
        return self._finish(request, response, started)

    @staticmethod
    def _start(request: HttpRequest) -> float:
        request_id = request_id_from_header(request.headers.get("x-request-id"))
        request.request_id = request_id  # type: ignore[attr-defined]
        _request_id.set(request_id)
        return time.perf_counter()

    @staticmethod
    def _finish(request: HttpRequest, response: HttpResponseBase, started: float) -> HttpResponseBase:
        response["x-request-id"] = request.request_id  # type: ignore[attr-defined]
        if request.path not in QUIET_PATHS and access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "event": "http_request",
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    # Until the response starts; a streamed body is timed by the gateway's own line.
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        return response
