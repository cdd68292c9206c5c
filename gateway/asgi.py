"""The ASGI front of the OpenAI-compatible endpoints.

Two things Django's own handler cannot do for the hot path:

- Refuse an oversized body with 413 *before* reading it whole. Django's handler
  spools the entire body before any view runs; here Content-Length is checked
  first and a chunked body is counted as it arrives.
- Skip the site's middleware. Sessions, CSRF, messages, allauth and htmx mean
  nothing to a bearer-key API, and the sync-only ones (WhiteNoise) or
  MiddlewareMixin ones would cost a thread hop each per request. The API views
  authenticate keys themselves. Only ``API_MIDDLEWARE`` runs, each natively async.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from gateway.errors import error_body

HOT_PATHS = frozenset({"/api/v1/chat/completions", "/api/v1/generation"})
# Natively async middleware only (no MiddlewareMixin: its async path hops to a thread).
API_MIDDLEWARE = ("promptgrid.observability.request_id.RequestIdMiddleware",)


class ApiHandler(ASGIHandler):
    """Django's ASGI handler with only ``API_MIDDLEWARE`` in its chain.

    It also skips the per-request ``ThreadSensitiveContext``, which starts a new
    thread for every request just to run Django's request signals; those few sync
    calls share asgiref's one thread instead, and the gateway's database work has
    its own pool (``gateway.db``).
    """

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.handle(scope, receive, send)

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async if is_async else self._get_response
        handler = convert_exception_to_response(get_response)
        for path in reversed(API_MIDDLEWARE):
            middleware = import_string(path)
            if not getattr(middleware, "async_capable", False) or (
                isinstance(middleware, type) and issubclass(middleware, MiddlewareMixin)
            ):
                raise ImproperlyConfigured(f"{path} must be natively async to run on the API path.")
            handler = convert_exception_to_response(middleware(handler))
        self._middleware_chain = handler


async def _refuse(send: Any, status: int, message: str) -> None:
    body = orjson.dumps(error_body(status, message))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def limit_body(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Call ``app`` with the body read up to API_MAX_BODY_BYTES, or answer 413."""
    limit = settings.API_MAX_BODY_BYTES
    too_large = f"Request body is larger than {limit} bytes."
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                return await _refuse(send, 400, "Content-Length is not a number.")
            if declared > limit:
                return await _refuse(send, 413, too_large)
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return await _refuse(send, 413, too_large)
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    pending: list[dict[str, Any]] = [{"type": "http.request", "body": b"".join(parts), "more_body": False}]

    async def replay() -> dict[str, Any]:
        if pending:
            return pending.pop()
        return await receive()  # after the body: the disconnect Django listens for

    return await app(scope, replay, send)


def gateway_http(django_app: Any) -> Any:
    """Wrap the site's ASGI app: hot-path requests go through ``ApiHandler`` with the body cap."""
    api_app = ApiHandler()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") in HOT_PATHS:
            return await limit_body(api_app, scope, receive, send)
        return await django_app(scope, receive, send)

    return app
