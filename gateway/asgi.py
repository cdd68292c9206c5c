"""The ASGI front of the OpenAI-compatible endpoints.

``POST /api/v1/chat/completions`` is served straight from ASGI (``serve_chat``), and so are
the other surfaces of the same pipeline, ``/api/v1/messages`` and ``/api/v1/responses``:
no Django request, middleware, URL resolution, signals or response objects on
the hot path; ``gateway.surfaces.chat.endpoint.handle_chat`` does the work and returns a ``Reply``
that is written to the wire here. The other hot path (``/api/v1/generation``)
goes through ``ApiHandler``, Django's handler trimmed for an API.

Three things Django's own handler cannot do for the hot path:

- Refuse an oversized body with 413 *before* reading it whole. Django's handler
  spools the entire body before any view runs; here Content-Length is checked
  first and a chunked body is counted as it arrives.
- Skip the site's middleware. Sessions, CSRF, messages, allauth and htmx mean
  nothing to a bearer-key API, and the sync-only ones (WhiteNoise) or
  MiddlewareMixin ones would cost a thread hop each per request. The API views
  authenticate keys themselves. Only ``API_MIDDLEWARE`` runs, each natively async.
- Watch for the client leaving while the answer is prepared or streamed, at the
  cost of one task, and cancel the work (a stream is then settled for what it
  produced; see ``gateway.surfaces.chat.stream``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http.request import split_domain_port, validate_host
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from gateway.pipeline import attribution
from gateway.pipeline.replies import Reply, asgi_headers, error_reply
from gateway.surfaces.chat import endpoint as chat
from gateway.surfaces.embeddings import endpoint as embeddings
from gateway.surfaces.messages import answer as messages_answer
from gateway.surfaces.messages import endpoint as messages
from gateway.surfaces.responses import endpoint as responses
from promptgrid.db import DATABASE_DOWN
from promptgrid.errors import error_body
from promptgrid.observability.request_id import request_id_from_header, use_request_id

logger = logging.getLogger(__name__)

CHAT_PATH = "/api/v1/chat/completions"
RESPONSES_PATH = "/api/v1/responses"  # OpenAI's Responses API, served from ASGI like chat
EMBEDDINGS_PATH = "/api/v1/embeddings"
# Anthropic's Messages API, served from ASGI like chat.
MESSAGES_PATHS = {
    "/api/v1/messages": messages.handle_messages,
    "/api/v1/messages/count_tokens": messages.handle_count_tokens,
}

# The other API paths that skip the site's middleware (through ``ApiHandler``).
API_HANDLER_PATHS = frozenset({"/api/v1/generation"})
# Natively async middleware only (no MiddlewareMixin: its async path hops to a thread).
API_MIDDLEWARE = (
    "promptgrid.observability.request_id.RequestIdMiddleware",
    "promptgrid.nul.refuse_nul",
    "promptgrid.api_errors.api_method_not_allowed",
)


class ApiHandler(ASGIHandler):
    """Django's ASGI handler with only ``API_MIDDLEWARE`` in its chain.

    It also skips the per-request ``ThreadSensitiveContext``, which starts a new
    thread for every request just to run Django's request signals; those few sync
    calls share asgiref's one thread instead, and the gateway's database work has
    its own pool (``promptgrid.db``).
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


async def serve_chat(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The chat endpoint on ASGI: ``receive`` yields the whole body first (``limit_body``)."""
    await _serve(chat.handle_chat, scope, receive, send)


async def serve_responses(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await _serve(responses.handle_responses, scope, receive, send)


async def serve_embeddings(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await _serve(embeddings.handle_embeddings, scope, receive, send)


def serve_messages(scope: dict[str, Any], receive: Any, send: Any) -> Any:
    """The Messages endpoints on ASGI (the key may come in ``x-api-key``)."""
    return _serve(MESSAGES_PATHS[scope["path"]], scope, receive, send, x_api_key=True)


def _host_allowed(host: str, scope: dict[str, Any]) -> bool:
    if not host:  # HTTP/1.0 without Host: Django falls back to the server's own name
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else ""
    domain, _port = split_domain_port(host)
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


async def _serve(
    handler: Any, scope: dict[str, Any], receive: Any, send: Any, *, x_api_key: bool = False
) -> None:
    authorization = ""
    api_key = ""
    request_id = None
    host = ""
    authorizations = 0
    betas: list[str] = []
    app_headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            authorizations += 1
        elif name == b"host":
            host = value.decode("latin-1")
        elif name == b"x-request-id":
            request_id = value.decode("latin-1")
        elif x_api_key and name == b"x-api-key":
            api_key = value.decode("latin-1")
        elif x_api_key and name == b"anthropic-beta":
            betas.append(value.decode("latin-1"))  # repeated headers join as Django joins them
        elif name in attribution.HEADERS:
            app_headers[name.decode()] = value.decode("utf-8", "replace")
    attribution.use(attribution.app_from(app_headers.get))
    if x_api_key:
        authorization = messages.authorization_of(api_key, authorization)
    request_id = request_id_from_header(request_id)
    use_request_id(request_id)
    # As Django does for every other path: a Host outside ALLOWED_HOSTS is refused.
    if not _host_allowed(host, scope):
        return await _send_reply(send, error_reply(400, "Invalid Host header."), request_id)
    # Other endpoints see two Authorization headers joined into one invalid value; refuse here too.
    if authorizations > 1:
        refusal = error_reply(401, "Send one Authorization header, not several.", code="invalid_api_key")
        return await _send_reply(send, refusal, request_id)
    if scope["method"] != "POST":
        refusal = error_reply(405, "Use POST.", headers={"Allow": "POST"})
        if x_api_key:
            refusal = messages_answer.error_reply(405, "Use POST.", {"Allow": "POST"})
        return await _send_reply(send, refusal, request_id)
    message = await receive()
    body = message.get("body", b"")
    # The request runs in this task; a watcher cancels it if the client leaves first (no task
    # per request for the work itself, and the answer goes out without another loop turn).
    task = asyncio.current_task()
    assert task is not None
    left = False

    def client_left(watcher: asyncio.Future[None]) -> None:
        nonlocal left
        if not watcher.cancelled() and watcher.exception() is None:
            left = True
            task.cancel()

    gone = asyncio.ensure_future(_disconnected(receive))
    gone.add_done_callback(client_left)
    try:
        try:
            if betas:
                reply = await handler(authorization, lambda: body, request_id, ",".join(betas))
            else:
                reply = await handler(authorization, lambda: body, request_id)
        except DATABASE_DOWN:
            logger.warning("chat request failed: the database is unavailable", exc_info=True)
            down = "The database is unavailable for a moment; retry the request."
            retry = {"Retry-After": "1"}
            reply = (
                messages_answer.error_reply(503, down, retry)
                if x_api_key
                else error_reply(503, down, code="database_unavailable", headers=retry)
            )
        except Exception:
            logger.exception("chat request failed")
            failed = "The gateway failed to handle this request."
            reply = (
                messages_answer.error_reply(500, failed)
                if x_api_key
                else error_reply(500, failed, code="internal_error")
            )
        if reply.stream is None:
            await _send_reply(send, reply, request_id)
        else:
            await _pump(send, reply, request_id)
    except asyncio.CancelledError:
        if not left:
            raise
        # The client left: the request settled itself (cancelled, or billed for what it produced).
        task.uncancel()
    except Exception:
        # The status line is out: nothing to tell the client; the request settled itself.
        logger.warning("sending the answer failed", exc_info=True)
    finally:
        gone.remove_done_callback(client_left)
        gone.cancel()


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_reply(send: Any, reply: Reply, request_id: str) -> None:
    await send(
        {"type": "http.response.start", "status": reply.status, "headers": asgi_headers(reply, request_id)}
    )
    await send({"type": "http.response.body", "body": reply.body})


async def _pump(send: Any, reply: Reply, request_id: str) -> None:
    assert reply.stream is not None
    stream = reply.stream
    try:
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": asgi_headers(reply, request_id),
            }
        )
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


def gateway_http(django_app: Any) -> Any:
    """Wrap the site's ASGI app: the hot paths get the body cap, chat is served from ASGI."""
    api_app = ApiHandler()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope.get("path")
            if path == CHAT_PATH:
                return await limit_body(serve_chat, scope, receive, send)
            if path == RESPONSES_PATH:
                return await limit_body(serve_responses, scope, receive, send)
            if path in MESSAGES_PATHS:
                return await limit_body(serve_messages, scope, receive, send)
            if path == EMBEDDINGS_PATH:
                return await limit_body(serve_embeddings, scope, receive, send)
            if path in API_HANDLER_PATHS:
                return await limit_body(api_app, scope, receive, send)
        return await django_app(scope, receive, send)

    return app
