"""Settling a request: record the Generation and turn the hold into the charge, together.

One transaction per request, started once through ``settle_shielded``, which shields it
from cancellation: a client that hangs up mid-stream cancels the request's task, but its
settlement still finishes. With ``GATEWAY_DB_ASYNC`` (PostgreSQL) it is ``settle_async``,
one statement awaited on ``promptgrid.pgpool``'s connections in the event loop; otherwise
``settle`` (sync) in one ``db_call``. Both write the same row and charge.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from billing import pg_async
from billing import services as billing
from billing.models import Generation
from billing.pricing import usage_cost_nanos
from catalog.snapshot import EndpointInfo
from gateway.providers.base import Usage
from promptgrid import pgpool
from promptgrid.db import db_call


@dataclass
class Outcome:
    """Everything known about a request when it ends; becomes one Generation row."""

    generation_id: str
    user_id: int
    api_key_id: int | None
    endpoint: EndpointInfo
    model_id: int | None
    hold_id: int
    streamed: bool
    created_at: datetime
    api: str = Generation.Api.CHAT  # the API surface the request came in through
    status: str = Generation.Status.SUCCESS
    http_status: int = 200
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = ""
    native_finish_reason: str = ""
    ttft_ms: int | None = None
    latency_ms: int = 0
    upstream_id: str = ""
    error: str = ""
    prompt_text: Any = None
    completion_text: str | None = None
    produced_output: bool = True  # False: nothing reached the client; no charge at all
    attempts: list[dict[str, Any]] = field(default_factory=list)  # upstream calls, in order


def cost_of(outcome: Outcome) -> int:
    """Tokens times the endpoint's prices; an answer with no output costs nothing."""
    usage = outcome.usage
    if not outcome.produced_output or usage.completion_tokens == 0:
        return 0
    return usage_cost_nanos(usage, outcome.endpoint)


@dataclass(frozen=True)
class Settled:
    cost_nanos: int
    # The account's balance right after the charge. Not read back (a round trip on every
    # request): None, and pages re-read it on the event.
    balance_nanos: int | None


def _values(outcome: Outcome, cost: int) -> dict[str, Any]:
    """The request's Generation row, every column by attname."""
    usage = outcome.usage
    target = outcome.endpoint.target
    return {
        "id": outcome.generation_id,
        "user_id": outcome.user_id,
        "api_key_id": outcome.api_key_id,
        "model_id": outcome.model_id,
        "endpoint_id": target.endpoint_id,
        "model_slug": target.model_slug,
        "provider_slug": target.provider_slug,
        "provider_name": target.provider_name,
        "upstream_model": target.upstream_model,
        "streamed": outcome.streamed,
        "api": str(outcome.api),
        "status": str(outcome.status),
        "http_status": outcome.http_status,
        "finish_reason": outcome.finish_reason[:32],
        "native_finish_reason": outcome.native_finish_reason[:64],
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cost_nanos": cost,
        "ttft_ms": outcome.ttft_ms,
        "latency_ms": outcome.latency_ms,
        "upstream_id": outcome.upstream_id[:200],
        "error": outcome.error[:2000],
        "prompt_text": outcome.prompt_text,
        "completion_text": outcome.completion_text,
        "attempts": outcome.attempts,
        "created_at": outcome.created_at,
    }


def _row(outcome: Outcome, cost: int) -> Generation:
    """The request's Generation row (unsaved)."""
    return Generation(**_values(outcome, cost))


def _memo(outcome: Outcome) -> str:
    target = outcome.endpoint.target
    return f"{target.model_slug} via {target.provider_slug}"


def settle(outcome: Outcome) -> Settled:
    """Write the Generation and charge its cost against the hold, in one transaction (sync)."""
    cost = cost_of(outcome)
    billing.generation_settle(
        generation=_row(outcome, cost), hold_id=outcome.hold_id, cost_nanos=cost, memo=_memo(outcome)
    )
    return Settled(cost_nanos=cost, balance_nanos=None)


async def settle_async(outcome: Outcome) -> Settled:
    """``settle`` awaited on ``promptgrid.pgpool``'s connections (PostgreSQL): the same statement."""
    cost = cost_of(outcome)
    await pg_async.generation_settle_values(
        Generation, _values(outcome, cost), hold_id=outcome.hold_id, cost_nanos=cost, memo=_memo(outcome)
    )
    return Settled(cost_nanos=cost, balance_nanos=None)


_background: set[asyncio.Task[Any]] = set()


def keep(task: asyncio.Task[Any]) -> asyncio.Task[Any]:
    """Hold a reference to a fire-and-forget task so it is not garbage-collected mid-flight."""
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def settle_shielded(outcome: Outcome) -> Settled:
    """Settle once, to the end, even if the awaiting task is cancelled.

    ``settle_async`` with ``GATEWAY_DB_ASYNC``, else ``settle`` through ``db_call``.
    """
    work = settle_async(outcome) if pgpool.enabled() else db_call(settle, outcome)
    task = keep(asyncio.ensure_future(work))
    return await asyncio.shield(task)
