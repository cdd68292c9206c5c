"""``GET /api/v1/generation``: a generation's stats (OpenRouter's field names)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from billing.models import Generation
from gateway.pipeline.auth import Unauthorized, authenticate_bearer
from promptgrid.errors import error_response
from promptgrid.money import nanos_to_usd


@csrf_exempt
async def generation(request: HttpRequest) -> HttpResponse:
    """A generation's stats (OpenRouter's field names), to the keys of the user who made it."""
    if request.method != "GET":
        return error_response(405, "Use GET.", headers={"Allow": "GET"})
    try:
        key = await authenticate_bearer(request.headers.get("Authorization", ""))
    except Unauthorized as exc:
        return error_response(401, str(exc), code="invalid_api_key")
    generation_id = request.GET.get("id", "").strip()
    if not generation_id:
        return error_response(400, "'id' is required.", param="id")
    gen = await Generation.objects.filter(pk=generation_id, user_id=key.user_id).afirst()
    if gen is None:
        return error_response(404, f"Generation {generation_id} not found.", param="id", code="not_found")
    return JsonResponse({"data": generation_stats(gen)})


def generation_stats(gen: Generation) -> dict[str, Any]:
    return {
        "id": gen.id,
        "model": gen.model_slug,
        "provider_name": gen.provider_name,
        "provider_slug": gen.provider_slug,
        "upstream_model": gen.upstream_model,
        "upstream_id": gen.upstream_id,
        "api_key_id": gen.api_key_id,
        "created_at": gen.created_at.isoformat(),
        "streamed": gen.streamed,
        "cancelled": gen.status == Generation.Status.CANCELLED,
        "status": gen.status,
        "http_status": gen.http_status,
        "total_cost": float(nanos_to_usd(gen.cost_nanos)),
        "usage": float(nanos_to_usd(gen.cost_nanos)),
        "latency": gen.latency_ms,
        "time_to_first_token": gen.ttft_ms,
        "generation_time": max(gen.latency_ms - (gen.ttft_ms or 0), 0),
        "finish_reason": gen.finish_reason or None,
        "native_finish_reason": gen.native_finish_reason or None,
        "tokens_prompt": gen.prompt_tokens,
        "tokens_completion": gen.completion_tokens,
        "native_tokens_prompt": gen.prompt_tokens,
        "native_tokens_completion": gen.completion_tokens,
        "native_tokens_reasoning": gen.reasoning_tokens,
        "native_tokens_cached": gen.cached_tokens,
        "native_tokens_cache_write": gen.cache_write_tokens,
        "error": gen.error or None,
        "is_byok": False,
        # The rest of OpenRouter's GenerationResponse, required by its SDK: what applies
        # here, null where PromptGrid has no such thing.
        "api_type": "embeddings" if gen.api == Generation.Api.EMBEDDINGS else "completions",
        "origin": "",
        "router": None,
        "data_region": "global",
        "upstream_inference_cost": None,
        "cache_discount": None,
        "app_id": None,
        "http_referer": gen.app_referer or None,
        "app_title": gen.app_title or None,  # X-OpenRouter-Title / X-Title (PromptGrid's own field)
        "user_agent": None,
        "external_user": gen.end_user or None,
        "workspace_id": None,
        "preset_id": None,
        "provider_responses": None,
        "service_tier": None,
        "moderation_latency": None,
        "web_search_engine": None,
        "native_tokens_completion_images": None,
        "num_fetches": None,
        "num_input_audio_prompt": None,
        "num_media_completion": None,
        "num_media_prompt": None,
        "num_search_results": None,
        "request_id": None,
    }
