"""The OpenAI-compatible API: ``POST /api/v1/chat/completions`` and ``GET /api/v1/generation``.

``handle_chat`` is the chat endpoint, written once: ``gateway.asgi`` serves it
straight from ASGI in production, ``chat_completions`` as a Django view (the test
client, WSGI). Nothing here blocks the event loop. A warm request makes two database
calls, to place the hold and to settle: on PostgreSQL both are awaited in the event loop
(``promptgrid.pgpool``), elsewhere each is a thread hop (``promptgrid.db``). Key lookups and the
catalog come from in-process caches (a cold lookup costs one thread hop).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.keyauth import KeyInfo
from gateway.pipeline import attribution, holds, middle_out, telemetry
from gateway.pipeline.auth import Unauthorized, authenticate_bearer
from gateway.pipeline.flight import (
    STATUS_CANCELLED,
    STATUS_ERROR,
    STATUS_SUCCESS,
    Flight,
    new_generation_id,
    usage_body,
)
from gateway.pipeline.replies import Reply, error_reply, json_reply, to_django
from gateway.providers.base import UpstreamError, Usage
from gateway.routing import fallback, provider_prefs, ratelimit
from gateway.routing import routes as routing
from gateway.surfaces.chat.request import ChatRequest, InvalidRequest, parse_json, read_body, validate
from gateway.surfaces.chat.stream import Relay, upstream_error_response
from promptgrid.errors import error_response


class Surface:
    """What an API surface supplies to the one request pipeline (``handle_chat``): its
    validated canonical request (a ``ChatRequest``), and how the answer, the stream and the
    errors look on its wire. Chat completions is the default; others subclass it."""

    api = "chat"  # Generation.api

    def parse(self, raw: dict[str, Any]) -> ChatRequest:
        return validate(raw)

    def error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        return error_reply(status, message, code=code, param=param, headers=headers)

    def upstream_error(self, flight: Flight, error: UpstreamError) -> Reply:
        return upstream_error_response(flight, error)

    def answer(self, flight: Flight, completion: Any, cost: int) -> dict[str, Any]:
        return {
            "id": flight.generation_id,
            "object": "chat.completion",
            "created": flight.created,
            "model": flight.target.model_slug,
            "provider": flight.target.provider_name,
            # Required by OpenRouter's SDK; a string (none known: empty) as OpenAI's spec types it.
            "system_fingerprint": "",
            "choices": completion.choices,
            "usage": usage_body(completion.usage, cost),
        }

    def relay(self, flight: Flight, items: Any) -> Relay:
        return Relay(flight, items)

    def serves(self, request: Any, routes: list[routing.Route]) -> list[routing.Route]:
        """The routes this surface can call; raises RouteError when none is left."""
        kept = [r for r in routes if "embeddings" not in r.model.output_modalities]
        if not kept:
            raise routing.RouteError(
                400,
                f"{routes[0].model.slug} is an embedding model; call it at /api/v1/embeddings.",
                param="model",
                code="wrong_model_type",
            )
        return kept

    def prepare(self, request: Any, routes: list[routing.Route]) -> None:
        """Fit the request to its routes before the hold: ``transforms: ["middle-out"]``."""
        middle_out.apply(request, [r.endpoint.context_length or r.model.context_length for r in routes])

    def prompt_bound(self, request: Any, route: routing.Route) -> int:
        """Tokens the hold assumes for the prompt: never fewer than the provider may count."""
        return _prompt_bound(request, route)

    async def respond(self, flight: Flight, adapter: Any, request: Any, reservation: Any) -> Reply:
        """Call the provider (through ``adapter``, the failover) and answer the client."""
        body = request.upstream_body(max_tokens=reservation.max_tokens)
        if request.stream:
            relay = self.relay(flight, adapter.stream(body).__aiter__())
            adapter.on_route = lambda r: relay.prefix.update(
                model=r.endpoint.target.model_slug, provider=r.endpoint.target.provider_name
            )
            return await relay.open()
        return await _complete(flight, adapter, body, self)


CHAT = Surface()
T = TypeVar("T")

logger = logging.getLogger(__name__)


def _reject(
    request_id: str,
    started: float,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    key: KeyInfo | None = None,
    model: str = "",
    surface: Surface = CHAT,
    **kw: Any,
) -> Reply:
    """An error before any hold: reported to telemetry (no provider, so no model label)."""
    telemetry.request_done(
        request_id=request_id,
        status=status,
        model=model,
        provider="",
        key_id=key.id if key else None,
        streamed=False,
        latency_ms=(time.monotonic() - started) * 1000,
        error_kind=code or "",
    )
    return surface.error(status, message, code=code, param=param, **kw)


async def serve_django(
    request: HttpRequest, handle: Callable[[str, Callable[[], bytes], str], Awaitable[Reply]]
) -> HttpResponse | StreamingHttpResponse:
    """An OpenAI-shaped POST endpoint as a Django view (production serves it from ASGI)."""
    if request.method != "POST":
        return error_response(405, "Use POST.", headers={"Allow": "POST"})
    attribution.use_django_headers(request.headers)
    reply = await handle(
        request.headers.get("Authorization", ""),
        lambda: read_body(request),
        getattr(request, "request_id", ""),
    )
    return to_django(reply)


@csrf_exempt
async def chat_completions(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The chat endpoint as a Django view (production serves ``handle_chat`` from ASGI)."""
    return await serve_django(request, handle_chat)


async def handle_chat(
    authorization: str, read: Callable[[], bytes], request_id: str, surface: Surface = CHAT
) -> Reply:
    """One request of any surface: ``read`` returns the body (or raises InvalidRequest)."""
    started = time.monotonic()
    reject = functools.partial(_reject, request_id, started, surface=surface)
    try:
        key = await authenticate_bearer(authorization)
    except Unauthorized as exc:
        return reject(401, str(exc), code="invalid_api_key")
    try:
        raw = parse_json(read())
        chat = surface.parse(raw)
        prefs = provider_prefs.parse(raw.get("provider"))
    except InvalidRequest as exc:
        return reject(exc.status, exc.message, param=exc.param, code="invalid_request", key=key)
    try:
        routes = routing.resolve(await routing.current_snapshot(), chat, key)
        routes = provider_prefs.apply(routes, prefs)
        if not routes:
            raise routing.RouteError(
                404,
                f"No endpoint of {chat.model} matches the request's provider preferences.",
                param="provider",
                code="no_endpoints",
            )
        routes = surface.serves(chat, routes)
        surface.prepare(chat, routes)
    except routing.RouteError as exc:
        return reject(
            exc.status,
            exc.message,
            param=exc.param,
            code=exc.code,
            key=key,
            model=chat.model,
        )

    decision = await ratelimit.check(key)
    if decision is not None and not decision.allowed:
        return reject(
            429,
            f"Rate limit exceeded: {decision.scope} ({decision.limit}).",
            code="rate_limited",
            key=key,
            model=chat.model,
            headers=decision.headers(),
        )

    # Endpoints with an open circuit are skipped; the hold covers the dearest one left.
    candidates = routes
    routes, health = await fallback.usable(routes)
    if not routes:
        wait = await fallback.retry_after(candidates)
        return reject(
            503,
            "Every provider for this model is failing; try again later.",
            code="provider_unavailable",
            key=key,
            model=chat.model,
            headers={"Retry-After": str(wait)},
        )
    route = fallback.hold_route(routes)
    generation_id = new_generation_id()
    try:
        reservation = await holds.reserve_async(
            user_id=key.user_id,
            account_id=key.account_id,
            api_key_id=key.id,
            organisation_id=key.organisation_id,
            endpoint=route.endpoint,
            prompt_tokens=surface.prompt_bound(chat, route),
            requested_max_tokens=chat.max_tokens,
            n=chat.n,
            generation_id=generation_id,
        )
    except holds.ContextTooLong as exc:
        return reject(400, exc.message, code=exc.code, param="messages", key=key, model=chat.model)
    except holds.HoldRefused as exc:
        return reject(402, exc.message, code=exc.code, key=key, model=chat.model)
    telemetry.hold_opened()

    # A provider sees end-user ids only as their keyed hash (gateway.pipeline.attribution).
    end_user = chat.params.get("user")
    for field in ("user", "safety_identifier"):
        if (value := chat.params.get(field)) is not None:
            chat.params[field] = attribution.upstream_user(key.user_id, value)
    flight = Flight(
        generation_id=generation_id,
        key=key,
        request=chat,
        route=routes[0],
        hold_id=reservation.hold_id,
        hold_nanos=reservation.amount_nanos,
        max_tokens=reservation.max_tokens,
        started=started,
        request_id=request_id,
        api=surface.api,
        app=attribution.current(),
        end_user=end_user or "",
    )
    adapter = fallback.Failover(flight, routes, health)
    extra_headers = {} if decision is None else decision.headers()
    response = await surface.respond(flight, adapter, chat, reservation)
    for name, value in extra_headers.items():
        response[name] = value
    return response


def _prompt_bound(chat: Any, route: routing.Route) -> int:
    """The hold's prompt bound; raises ContextTooLong (400) for a prompt the model cannot take."""
    context = route.endpoint.context_length or route.model.context_length
    return holds.checked_prompt_bound(chat.messages, chat.tools, context)


async def _complete(flight: Flight, adapter: Any, body: dict[str, Any], surface: Surface) -> Reply:
    completion = await answer_or_reply(flight, adapter.complete(body, flight.target), surface)
    if isinstance(completion, Reply):
        return completion
    flight.mark_first_token()
    finish = str(completion.choices[0].get("finish_reason") or "") if completion.choices else ""
    text = None
    if flight.key.log_prompts:
        text = "".join(str((c.get("message") or {}).get("content") or "") for c in completion.choices)
    cost = await flight.finish(
        status=STATUS_SUCCESS,
        http_status=200,
        usage=completion.usage,
        finish_reason=finish,
        native_finish_reason=completion.native_finish_reason or finish,
        upstream_id=completion.upstream_id,
        completion_text=text,
    )
    payload = surface.answer(flight, completion, cost)
    return json_reply(payload, headers={"X-Generation-Id": flight.generation_id})


async def answer_or_reply(flight: Flight, call: Awaitable[T], surface: Surface) -> T | Reply:
    """The provider's whole answer, or (having settled the failure: nothing is charged) the
    error reply for the client. A client that hangs up first settles as cancelled."""
    try:
        return await call
    except UpstreamError as error:
        telemetry.upstream_error(provider=flight.target.provider_slug, kind=error.kind)
        await flight.finish(
            status=STATUS_ERROR,
            http_status=error.status,
            usage=Usage(),
            finish_reason="error",
            native_finish_reason=error.kind,
            error=error.message,
            error_kind=error.kind,
            produced_output=False,
        )
        return surface.upstream_error(flight, error)
    except asyncio.CancelledError:
        # The client hung up before the answer: nothing reached it, nothing is charged.
        await flight.finish(
            status=STATUS_CANCELLED,
            http_status=499,
            usage=Usage(),
            finish_reason="cancelled",
            native_finish_reason="client_disconnected",
            error="The client disconnected.",
            produced_output=False,
        )
        raise
    except Exception:
        logger.exception("adapter failure on %s", flight.target.provider_slug)
        error = UpstreamError(
            "bad_response", f"{flight.target.provider_name} sent a response the gateway could not read."
        )
        await flight.finish(
            status=STATUS_ERROR,
            http_status=502,
            usage=Usage(),
            error=error.message,
            error_kind=error.kind,
            produced_output=False,
        )
        return surface.upstream_error(flight, error)
