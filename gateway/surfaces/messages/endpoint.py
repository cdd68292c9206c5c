"""Anthropic's Messages API: ``POST /api/v1/messages`` and ``POST /api/v1/messages/count_tokens``.

The request runs through the chat pipeline (``handle_chat``): key auth and limits,
allowlists, routing and fallbacks, the hold, settlement, telemetry. This module only
supplies the Messages surface: its request translated into the canonical one, and its
answers, events and errors. Keys come in ``x-api-key`` (the SDK's default) or
``Authorization: Bearer``; ``anthropic-version`` and ``anthropic-beta`` are accepted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway.pipeline import attribution
from gateway.pipeline.auth import Unauthorized, authenticate_bearer
from gateway.pipeline.flight import Flight
from gateway.pipeline.replies import Reply, json_reply, to_django
from gateway.pipeline.tokens import count_prompt_tokens
from gateway.providers import get_adapter
from gateway.providers.base import Completion, UpstreamError
from gateway.routing import routes as routing
from gateway.surfaces.chat.endpoint import Surface, handle_chat
from gateway.surfaces.chat.request import ChatRequest, InvalidRequest, parse_json, read_body
from gateway.surfaces.messages import answer
from gateway.surfaces.messages.request import translate

logger = logging.getLogger(__name__)


class MessagesSurface(Surface):
    api = "messages"

    def __init__(self, betas: str = "") -> None:
        self.betas = betas  # the request's anthropic-beta header

    def parse(self, raw: dict[str, Any]) -> ChatRequest:
        chat = translate(raw)
        if self.betas:
            # Forwarded to Anthropic models only, and only the betas their provider allows.
            chat.params["anthropic_beta"] = parse_betas(self.betas)
        return chat

    def error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        return answer.error_reply(status, message, headers)

    def upstream_error(self, flight: Flight, error: UpstreamError) -> Reply:
        return answer.upstream_error_reply(flight, error)

    def answer(self, flight: Flight, completion: Completion, cost: int) -> dict[str, Any]:
        return answer.message_payload(flight, completion, cost)

    def relay(self, flight: Flight, items: Any) -> answer.MessagesRelay:
        return answer.MessagesRelay(flight, items)


MESSAGES = MessagesSurface()


_BETA = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
MAX_BETAS = 32


def parse_betas(header: str) -> list[str]:
    """The ``anthropic-beta`` header's values (comma-separated), checked."""
    betas = [beta.strip() for beta in header.split(",") if beta.strip()]
    if len(betas) > MAX_BETAS:
        raise InvalidRequest(f"anthropic-beta: at most {MAX_BETAS} betas.", "anthropic-beta")
    for beta in betas:
        if not _BETA.match(beta):
            raise InvalidRequest(f"anthropic-beta: {beta[:100]!r} is not a beta name.", "anthropic-beta")
    return betas


def authorization_of(x_api_key: str, authorization: str) -> str:
    """The bearer header the pipeline authenticates: ``x-api-key`` wins when both are sent."""
    return f"Bearer {x_api_key.strip()}" if x_api_key.strip() else authorization


async def handle_messages(
    authorization: str, read: Callable[[], bytes], request_id: str, betas: str = ""
) -> Reply:
    return await handle_chat(authorization, read, request_id, MessagesSurface(betas) if betas else MESSAGES)


async def handle_count_tokens(
    authorization: str, read: Callable[[], bytes], request_id: str, betas: str = ""
) -> Reply:
    """Exact through Anthropic's endpoint for Anthropic models; elsewhere the gateway's estimate."""
    try:
        key = await authenticate_bearer(authorization)
    except Unauthorized as exc:
        return answer.error_reply(401, str(exc))
    try:
        raw = parse_json(read())
        raw.setdefault("max_tokens", 128_000)  # count_tokens takes none; room for a thinking budget
        raw["stream"] = False
        chat = MessagesSurface(betas).parse(raw)
    except InvalidRequest as exc:
        return answer.error_reply(exc.status, exc.message)
    try:
        routes = routing.resolve(await routing.current_snapshot(), chat, key)
    except routing.RouteError as exc:
        return answer.error_reply(exc.status, exc.message)
    return json_reply({"input_tokens": await _count(chat, routes[0])})


async def _count(chat: ChatRequest, route: routing.Route) -> int:
    """Exact from Anthropic for its models; else (or if that call fails) the gateway's estimate."""
    target = route.endpoint.target
    if target.protocol == "anthropic":
        adapter: Any = get_adapter("anthropic")
        try:
            return await adapter.count_tokens(chat.upstream_body(max_tokens=chat.max_tokens or 1), target)
        except UpstreamError:
            logger.warning("count_tokens fell back to the estimate", exc_info=True)
    return count_prompt_tokens(chat.messages, chat.tools)


def _headers(request: HttpRequest) -> str:
    return authorization_of(request.headers.get("x-api-key", ""), request.headers.get("Authorization", ""))


@csrf_exempt
async def messages(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The Messages endpoint as a Django view (production serves it from ASGI)."""
    if request.method != "POST":
        return to_django(answer.error_reply(405, "Use POST.", {"Allow": "POST"}))
    attribution.use_django_headers(request.headers)
    reply = await handle_messages(
        _headers(request),
        lambda: read_body(request),
        getattr(request, "request_id", ""),
        request.headers.get("anthropic-beta", ""),
    )
    return to_django(reply)


@csrf_exempt
async def count_tokens(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    if request.method != "POST":
        return to_django(answer.error_reply(405, "Use POST.", {"Allow": "POST"}))
    reply = await handle_count_tokens(
        _headers(request),
        lambda: read_body(request),
        getattr(request, "request_id", ""),
        request.headers.get("anthropic-beta", ""),
    )
    return to_django(reply)
