"""OpenAI's Responses API, stateless: ``POST /api/v1/responses``.

The request runs through the chat pipeline (``handle_chat``): key auth and limits,
allowlists, routing and fallbacks, the hold, settlement, telemetry. This module only
supplies the Responses surface: its request translated into the canonical one, and its
answer and typed stream events. Errors keep OpenAI's shape (chat's). Nothing is stored,
so reading, cancelling or deleting a response by id is a 400 that says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway.pipeline import attribution
from gateway.pipeline.auth import Unauthorized, authenticate_bearer
from gateway.pipeline.flight import Flight
from gateway.pipeline.replies import Reply, error_reply, json_reply, to_django
from gateway.pipeline.tokens import count_prompt_tokens
from gateway.providers.base import Completion
from gateway.routing import routes as routing
from gateway.surfaces.chat.endpoint import Surface, handle_chat
from gateway.surfaces.chat.request import ChatRequest, InvalidRequest, parse_json, read_body
from gateway.surfaces.responses import answer
from gateway.surfaces.responses.request import translate
from gateway.surfaces.responses.stream import ResponsesRelay

NOT_STORED = (
    "PromptGrid does not store responses (its Responses API is stateless), so there is no "
    "response to read by id: send the whole conversation in 'input' of a new request."
)


class ResponsesSurface(Surface):
    api = "responses"

    def parse(self, raw: dict[str, Any]) -> ChatRequest:
        return translate(raw)

    def answer(self, flight: Flight, completion: Completion, cost: int) -> dict[str, Any]:
        choice = completion.choices[0] if completion.choices else {}
        return answer.response_payload(
            flight,
            status="completed",
            output=answer.output_items(flight, choice.get("message") or {}),
            usage=completion.usage,
            finish_reason=str(choice.get("finish_reason") or ""),
        )

    def relay(self, flight: Flight, items: Any) -> ResponsesRelay:
        return ResponsesRelay(flight, items)


RESPONSES = ResponsesSurface()


async def handle_responses(authorization: str, read: Callable[[], bytes], request_id: str) -> Reply:
    return await handle_chat(authorization, read, request_id, RESPONSES)


@csrf_exempt
async def responses(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The Responses endpoint as a Django view (production serves it from ASGI)."""
    if request.method != "POST":
        return to_django(error_reply(405, "Use POST.", headers={"Allow": "POST"}))
    attribution.use_django_headers(request.headers)
    reply = await handle_responses(
        request.headers.get("Authorization", ""),
        lambda: read_body(request),
        getattr(request, "request_id", ""),
    )
    return to_django(reply)


async def handle_input_tokens(authorization: str, read: Callable[[], bytes]) -> Reply:
    """``POST /responses/input_tokens``: the gateway's estimate of the prompt, free of charge.

    The same count as a stream without usage is billed with (``gateway.pipeline.tokens``); the
    model must be one the key may call."""
    try:
        key = await authenticate_bearer(authorization)
    except Unauthorized as exc:
        return error_reply(401, str(exc), code="invalid_api_key")
    try:
        raw = parse_json(read())
        raw["stream"] = False
        chat = translate(raw)
        routing.resolve(await routing.current_snapshot(), chat, key)
    except InvalidRequest as exc:
        return error_reply(exc.status, exc.message, code="invalid_request", param=exc.param)
    except routing.RouteError as exc:
        return error_reply(exc.status, exc.message, code=exc.code, param=exc.param)
    tokens = count_prompt_tokens(chat.messages, chat.tools)
    return json_reply({"object": "response.input_tokens", "input_tokens": tokens})


@csrf_exempt
async def input_tokens(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    if request.method != "POST":
        return to_django(error_reply(405, "Use POST.", headers={"Allow": "POST"}))
    reply = await handle_input_tokens(request.headers.get("Authorization", ""), lambda: read_body(request))
    return to_django(reply)


@csrf_exempt
async def stored_response(request: HttpRequest, response_id: str, action: str = "") -> HttpResponse:
    """GET/DELETE /responses/{id}, its /cancel and /input_items: nothing is stored."""
    return to_django(error_reply(400, NOT_STORED, code="responses_not_stored", param="response_id"))
