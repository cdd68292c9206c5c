"""One request in flight, from the placed hold to its settlement.

A Flight owns the hold: every way out of a request (success, upstream error,
client disconnect) ends in ``finish``, which settles exactly once, shielded from
cancellation, then reports to telemetry, rate limits and the live dashboard.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.keyauth import KeyInfo
from billing.models import Generation
from gateway.pipeline import telemetry
from gateway.pipeline.attribution import App
from gateway.pipeline.settlement import Outcome, keep, settle_shielded
from gateway.pipeline.tokens import count_prompt_tokens
from gateway.providers.base import Usage
from gateway.routing import ratelimit
from gateway.routing.routes import Route
from gateway.surfaces.chat.request import ChatRequest
from promptgrid import live
from promptgrid.money import nanos_to_usd

logger = logging.getLogger(__name__)


def new_generation_id() -> str:
    return f"gen-{int(time.time())}-{secrets.token_urlsafe(15)}"


def usage_body(usage: Usage, cost_nanos: int) -> dict[str, Any]:
    """OpenAI's usage object plus OpenRouter's ``cost`` (USD)."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "cost": float(nanos_to_usd(cost_nanos)),
    }


@dataclass
class Flight:
    generation_id: str
    key: KeyInfo
    request: ChatRequest
    route: Route
    hold_id: int
    max_tokens: int
    started: float  # time.monotonic() when the request arrived
    request_id: str = ""  # the HTTP request id (x-request-id) for the request log
    hold_nanos: int | None = None  # what the hold reserved: the most the request is charged
    api: str = Generation.Api.CHAT  # the API surface (Generation.api)
    created_at: datetime = field(default_factory=timezone.now)
    first_token_at: float | None = None
    settled: bool = False
    cost_nanos: int = 0
    # Each upstream call made for this request (gateway.routing.fallback), for Generation.attempts.
    attempts: list[dict[str, Any]] = field(default_factory=list)
    app: App = field(default_factory=App)  # the calling app (gateway.pipeline.attribution)
    end_user: str = ""  # the request's ``user``, as the client sent it

    @property
    def target(self) -> Any:
        return self.route.endpoint.target

    @property
    def created(self) -> int:
        return int(self.created_at.timestamp())

    def mark_first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()

    def counted_prompt_tokens(self) -> int:
        """Prompt tokens when the provider reported none: the deterministic counter over the request."""
        return count_prompt_tokens(self.request.messages, self.request.tools)

    async def finish(
        self,
        *,
        status: str,
        http_status: int,
        usage: Usage,
        finish_reason: str = "",
        native_finish_reason: str = "",
        upstream_id: str = "",
        error: str = "",
        error_kind: str = "",
        produced_output: bool = True,
        completion_text: str | None = None,
        usage_reported: bool = False,
    ) -> int:
        """Settle once (shielded), then report; returns the cost in nanos."""
        if self.settled:
            return self.cost_nanos
        self.settled = True
        now = time.monotonic()
        ttft = None if self.first_token_at is None else int((self.first_token_at - self.started) * 1000)
        outcome = Outcome(
            generation_id=self.generation_id,
            user_id=self.key.user_id,
            api_key_id=self.key.id,
            organisation_id=self.key.organisation_id,
            endpoint=self.route.endpoint,
            model_id=self.route.model.id,
            hold_id=self.hold_id,
            hold_nanos=self.hold_nanos,
            streamed=self.request.stream,
            created_at=self.created_at,
            api=self.api,
            status=status,
            http_status=http_status,
            usage=usage,
            finish_reason=finish_reason,
            native_finish_reason=native_finish_reason,
            ttft_ms=ttft,
            latency_ms=int((now - self.started) * 1000),
            upstream_id=upstream_id,
            error=error,
            produced_output=produced_output,
            usage_reported=usage_reported,
            prompt_text=self.request.messages if self.key.log_prompts else None,
            completion_text=completion_text if self.key.log_prompts else None,
            attempts=self.attempts,
            app_referer=self.app.referer,
            app_title=self.app.title,
            end_user=self.end_user,
        )
        settled = await settle_shielded(outcome)
        self.cost_nanos = settled.cost_nanos
        telemetry.hold_closed()
        telemetry.request_done(
            request_id=self.request_id or self.generation_id,
            generation_id=self.generation_id,
            status=http_status,
            model=self.target.model_slug,
            provider=self.target.provider_slug,
            key_id=self.key.id,
            streamed=self.request.stream,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_nanos=self.cost_nanos,
            latency_ms=outcome.latency_ms,
            ttft_ms=None if ttft is None else float(ttft),
            error_kind=error_kind,
        )
        if self.key.tpm_limit:  # a task only when there is a counter to move
            keep(asyncio.ensure_future(self._count_tokens(usage)))
        self._publish(outcome, usage, settled.balance_nanos)
        return self.cost_nanos

    async def _count_tokens(self, usage: Usage) -> None:
        """Fire and forget: the key's tokens-per-minute counter."""
        try:
            await ratelimit.add_tokens(self.key, usage.prompt_tokens + usage.completion_tokens)
        except Exception:  # a counter that is down must not fail a finished request
            logger.warning("could not count tokens for rate limits", exc_info=True)

    def _publish(self, outcome: Outcome, usage: Usage, balance_nanos: int | None) -> None:
        """The live dashboard's event, coalesced per user (a dictionary update, no round trip)."""
        live.publish_soon(
            self.key.user_id,
            "generation",
            {
                "id": self.generation_id,
                "model": self.target.model_slug,
                "provider": self.target.provider_name,
                "status": outcome.status,
                "streamed": outcome.streamed,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cost_nanos": self.cost_nanos,
                "balance_nanos": balance_nanos,
                "latency_ms": outcome.latency_ms,
                "ttft_ms": outcome.ttft_ms,
                "created_at": self.created_at.isoformat(),
                "key_id": self.key.id,
                "organisation_id": self.key.organisation_id,
            },
        )


STATUS_SUCCESS = Generation.Status.SUCCESS
STATUS_ERROR = Generation.Status.ERROR
STATUS_CANCELLED = Generation.Status.CANCELLED
