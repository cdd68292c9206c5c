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
from gateway.pipeline.flight import Flight
from gateway.pipeline.replies import Reply, error_reply, to_django
from gateway.providers.base import Completion
from gateway.surfaces.chat.endpoint import Surface, handle_chat
from gateway.surfaces.chat.request import ChatRequest, read_body
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


@csrf_exempt
async def stored_response(request: HttpRequest, response_id: str, action: str = "") -> HttpResponse:
    """GET/DELETE /responses/{id}, its /cancel and /input_items: nothing is stored."""
    return to_django(error_reply(400, NOT_STORED, code="responses_not_stored", param="response_id"))
