"""OpenAI's embeddings API: ``POST /api/v1/embeddings``.

The request runs through the one pipeline (``handle_chat``): key auth and limits, allowlists,
routing and fallbacks, the hold, settlement, telemetry. This surface supplies what differs:
its request, which routes can embed, the hold's bound (the input only: there is no output to
cap) and the answer, a list of vectors as floats or as base64 of little-endian float32 (what
the official SDK asks for by default).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway.pipeline.flight import STATUS_SUCCESS, Flight
from gateway.pipeline.replies import Reply, json_reply
from gateway.providers.base import Embeddings
from gateway.routing import routes as routing
from gateway.surfaces.chat.endpoint import Surface, answer_or_reply, handle_chat, serve_django
from gateway.surfaces.embeddings.request import EmbeddingsRequest, validate
from promptgrid.money import nanos_to_usd

# Wire protocols whose adapters embed, and those that take token arrays as input.
EMBEDDING_PROTOCOLS = frozenset({"openai", "google", "mock"})
TOKEN_INPUT_PROTOCOLS = frozenset({"openai", "mock"})


def encode(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


class EmbeddingsSurface(Surface):
    api = "embeddings"

    def parse(self, raw: dict[str, Any]) -> EmbeddingsRequest:  # type: ignore[override]
        return validate(raw)

    def serves(self, request: EmbeddingsRequest, routes: list[routing.Route]) -> list[routing.Route]:
        kept = [
            r
            for r in routes
            if "embeddings" in r.model.output_modalities and r.endpoint.target.protocol in EMBEDDING_PROTOCOLS
        ]
        if not kept:
            raise routing.RouteError(
                400,
                f"{routes[0].model.slug} is not an embedding model; use an embedding model such as "
                "openai/text-embedding-3-small.",
                param="model",
                code="wrong_model_type",
            )
        if request.tokenized:
            kept = [r for r in kept if r.endpoint.target.protocol in TOKEN_INPUT_PROTOCOLS]
            if not kept:
                raise routing.RouteError(
                    400,
                    f"{routes[0].model.slug} takes text only; send 'input' as strings, not token arrays.",
                    param="input",
                    code="invalid_request",
                )
        return kept

    def prepare(self, request: EmbeddingsRequest, routes: list[routing.Route]) -> None:  # type: ignore[override]
        """Refuse, before any hold, an input whose estimate is past the model's input limit (as
        OpenAI itself refuses it; nothing is trimmed)."""
        known = [c for c in (r.endpoint.context_length or r.model.context_length for r in routes) if c]
        if not known:
            return
        limit = min(known)
        for i, tokens in enumerate(request.token_estimates()):
            if tokens > limit:
                raise routing.RouteError(
                    400,
                    f"This model's maximum input length is {limit} tokens; input[{i}] has about "
                    f"{tokens}. Send it in shorter pieces.",
                    param=f"input[{i}]",
                    code="context_length_exceeded",
                )

    def prompt_bound(self, request: EmbeddingsRequest, route: routing.Route) -> int:  # type: ignore[override]
        return request.token_bound(route.endpoint.context_length or route.model.context_length)

    async def respond(
        self, flight: Flight, adapter: Any, request: EmbeddingsRequest, reservation: Any
    ) -> Reply:
        result = await answer_or_reply(flight, adapter.embed(request.upstream_body()), self)
        if isinstance(result, Reply):
            return result
        flight.mark_first_token()
        cost = await flight.finish(
            status=STATUS_SUCCESS,
            http_status=200,
            usage=result.usage,
            finish_reason="stop",
            native_finish_reason="stop",
            upstream_id=result.upstream_id,
        )
        return json_reply(
            self.embeddings_payload(flight, request, result, cost),
            headers={"X-Generation-Id": flight.generation_id},
        )

    def embeddings_payload(
        self, flight: Flight, request: EmbeddingsRequest, result: Embeddings, cost: int
    ) -> dict[str, Any]:
        tokens = result.usage.prompt_tokens
        return {
            "object": "list",
            "id": flight.generation_id,
            "model": flight.target.model_slug,
            "provider": flight.target.provider_name,
            "data": [
                {"object": "embedding", "index": i, "embedding": encode(vector, request.encoding_format)}
                for i, vector in enumerate(result.vectors)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "cost": float(nanos_to_usd(cost))},
        }


EMBEDDINGS = EmbeddingsSurface()


async def handle_embeddings(authorization: str, read: Callable[[], bytes], request_id: str) -> Reply:
    return await handle_chat(authorization, read, request_id, EMBEDDINGS)


@csrf_exempt
async def embeddings(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The embeddings endpoint as a Django view (production serves it from ASGI)."""
    return await serve_django(request, handle_embeddings)
