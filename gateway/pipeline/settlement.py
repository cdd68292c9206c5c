"""Settling a request: record the Generation and turn the hold into the charge, together.

One transaction per request, started once through ``settle_shielded``, which shields it
from cancellation: a client that hangs up mid-stream cancels the request's task, but its
settlement still finishes. With ``GATEWAY_DB_ASYNC`` (PostgreSQL) it is ``settle_async``,
one statement awaited on ``promptgrid.pgpool``'s connections in the event loop; otherwise
``settle`` (sync) in one ``db_call``. Both write the same row and charge.

Settlement never fails for the content's sake: logged text is stored with the values
PostgreSQL refuses replaced (``promptgrid.storable``), and if writing it fails anyway the row
and the charge are written without it. Any other failure is retried; a settlement that
still fails leaves a ``Shortfall`` record that ``audit_ledger`` reports.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from billing import pg_async, pg_batch
from billing import services as billing
from billing.models import Generation
from billing.pricing import usage_cost_nanos
from catalog.snapshot import EndpointInfo
from gateway.providers.base import Usage
from promptgrid import pgpool
from promptgrid.db import db_call
from promptgrid.storable import storable_json, storable_text

logger = logging.getLogger(__name__)

# Pauses before each further try of a failed settlement (the first try is immediate).
RETRY_DELAYS = (0.05, 0.5)


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
    produced_output: bool = True  # False: nothing reached the client
    # True: ``usage`` is what the provider reported (False: the gateway's count, or nothing).
    usage_reported: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)  # upstream calls, in order
    app_referer: str = ""
    app_title: str = ""
    end_user: str = ""
    hold_nanos: int | None = None  # what the hold reserved (None: not known here)
    organisation_id: int | None = None  # the key's organisation, if it is an organisation's


# Finish reasons under zero-completion insurance: with no output tokens, no charge.
INSURED_FINISH_REASONS = frozenset({"", "error"})


def cost_of(outcome: Outcome) -> int:
    """Tokens times the endpoint's prices, by OpenRouter's zero-completion insurance.

    Nothing reached the client and the provider reported nothing: no charge (the gateway's
    own count is no bill). With ``ZERO_COMPLETION_INSURANCE`` (the default), an answer with
    no output tokens is free only when its finish reason is blank or an error; a normal stop
    with 0 tokens, or a stream cancelled after the provider reported its prompt, pays for
    the prompt. Without it, every answer pays for the usage reported. (An embedding's output
    is its vectors, never tokens: it always pays for its input.)
    """
    usage = outcome.usage
    if not outcome.produced_output and not outcome.usage_reported:
        return 0
    if (
        usage.completion_tokens == 0
        and settings.ZERO_COMPLETION_INSURANCE
        and outcome.finish_reason in INSURED_FINISH_REASONS
        and outcome.api != Generation.Api.EMBEDDINGS
    ):
        return 0
    return usage_cost_nanos(usage, outcome.endpoint)


def charged_of(outcome: Outcome, cost: int) -> int:
    """What is charged for ``cost``: never more than the hold reserved. The rest is the
    settlement's shortfall, recorded by ``billing_hold_settle`` (it caps the charge itself too,
    and also at the balance when the hold is no longer open)."""
    return cost if outcome.hold_nanos is None else min(cost, outcome.hold_nanos)


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
        "organisation_id": outcome.organisation_id,
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
        "finish_reason": storable_text(outcome.finish_reason[:32]),
        "native_finish_reason": storable_text(outcome.native_finish_reason[:64]),
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cost_nanos": cost,
        "ttft_ms": outcome.ttft_ms,
        "latency_ms": outcome.latency_ms,
        "upstream_id": storable_text(outcome.upstream_id[:200]),
        "error": storable_text(outcome.error[:2000]),
        "prompt_text": storable_json(outcome.prompt_text),
        "completion_text": None
        if outcome.completion_text is None
        else storable_text(outcome.completion_text),
        "attempts": storable_json(outcome.attempts),
        "app_referer": storable_text(outcome.app_referer)[:500],
        "app_title": storable_text(outcome.app_title)[:200],
        "end_user": storable_text(outcome.end_user)[:256],
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
    charged = charged_of(outcome, cost)
    billing.generation_settle(
        generation=_row(outcome, charged), hold_id=outcome.hold_id, cost_nanos=cost, memo=_memo(outcome)
    )
    return Settled(cost_nanos=charged, balance_nanos=None)


async def settle_async(outcome: Outcome) -> Settled:
    """``settle`` awaited on ``promptgrid.pgpool``'s connections (PostgreSQL): the same statement."""
    cost = cost_of(outcome)
    charged = charged_of(outcome, cost)
    # BILLING_MODE=batched: the same row and charge, group-committed with concurrent requests.
    write = pg_batch.generation_settle_values if pg_batch.enabled() else pg_async.generation_settle_values
    values = _values(outcome, charged)
    await write(Generation, values, hold_id=outcome.hold_id, cost_nanos=cost, memo=_memo(outcome))
    return Settled(cost_nanos=charged, balance_nanos=None)


_background: set[asyncio.Task[Any]] = set()


def keep(task: asyncio.Task[Any]) -> asyncio.Task[Any]:
    """Hold a reference to a fire-and-forget task so it is not garbage-collected mid-flight."""
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def _settle_once(outcome: Outcome) -> Settled:
    """``settle_async`` with ``GATEWAY_DB_ASYNC``, else ``settle`` through ``db_call``."""
    return await (settle_async(outcome) if pgpool.enabled() else db_call(settle, outcome))


def _settled_already(generation_id: str) -> bool:
    # The row and the charge commit together: a row means a lost answer, not a lost settlement.
    return Generation.objects.filter(pk=generation_id).exists()


async def settle_reliably(outcome: Outcome) -> Settled:
    """Settle, retrying a failure; never raises. A settlement that cannot be written is
    recorded as a Shortfall (or, with the database gone too, logged as an error)."""
    try:
        return await _settle_once(outcome)
    except Exception as error:
        failure: BaseException = error
        if outcome.prompt_text is not None or outcome.completion_text is not None:
            # The logged text is the only part a user controls: charge without it.
            logger.warning("settlement %s failed; settling without its logged text", outcome.generation_id)
            outcome = dataclasses.replace(outcome, prompt_text=None, completion_text=None)
        else:
            logger.warning("settlement %s failed; retrying", outcome.generation_id, exc_info=True)
    for delay in (0.0, *RETRY_DELAYS):
        await asyncio.sleep(delay)
        try:
            if await db_call(_settled_already, outcome.generation_id):
                return Settled(cost_nanos=charged_of(outcome, cost_of(outcome)), balance_nanos=None)
            return await _settle_once(outcome)
        except Exception as error:
            failure = error
            logger.warning("settlement %s failed again", outcome.generation_id, exc_info=True)
    await _record_unsettled(outcome, failure)
    return Settled(cost_nanos=charged_of(outcome, cost_of(outcome)), balance_nanos=None)


async def _record_unsettled(outcome: Outcome, failure: BaseException) -> None:
    cost = cost_of(outcome)
    target = outcome.endpoint.target
    detail = (
        f"{target.model_slug} via {target.provider_slug}: {outcome.usage.prompt_tokens} prompt and "
        f"{outcome.usage.completion_tokens} completion tokens; {type(failure).__name__}: {failure}"
    )
    try:
        await db_call(
            billing.shortfall_record_unsettled,
            generation_id=outcome.generation_id,
            hold_id=outcome.hold_id,
            api_key_id=outcome.api_key_id,
            amount_nanos=cost,
            detail=storable_text(detail[:2000]),
        )
    except Exception:
        # The last trace left: the log line names everything needed to charge it by hand.
        logger.exception(
            "UNSETTLED generation %s (hold %s, cost %s nanos) could not be recorded: %s",
            outcome.generation_id,
            outcome.hold_id,
            cost,
            detail,
        )
        return
    logger.error("settlement %s failed; recorded as a shortfall of %s nanos", outcome.generation_id, cost)


async def settle_shielded(outcome: Outcome) -> Settled:
    """Settle once, to the end, even if the awaiting task is cancelled (``settle_reliably``)."""
    task = keep(asyncio.ensure_future(settle_reliably(outcome)))
    return await asyncio.shield(task)
