"""Hooks the gateway calls at the end of each request: metrics and the request log.

The gateway calls these and nothing else for observability; what they record
(Prometheus metrics, one JSON log line) is decided here. They run on the event
loop, so they only touch memory (and the log handler); they never raise.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from promptgrid.observability import metrics
from promptgrid.observability.logs import StructuredRecord, redact_strings
from promptgrid.observability.request_id import current_request_id

log = logging.getLogger("promptgrid.request")

# A model name from a request that never reached a provider is whatever the client
# typed: it must not become a metric label (one time series per typo).
UNROUTED = "(none)"
_MAX_LABEL = 100


def _labels(model: str, provider: str) -> tuple[str, str]:
    if not provider:
        return UNROUTED, UNROUTED
    return model[:_MAX_LABEL], provider[:_MAX_LABEL]


class _Children(NamedTuple):
    """The metric children of one (model, provider, status): ``.labels()`` once, not per request."""

    requests: Any
    latency: Any
    ttft: Any
    prompt_tokens: Any
    completion_tokens: Any
    cost: Any


_children: dict[tuple[str, str, int], _Children] = {}
# Routed models come from the catalog, unrouted ones share one key: a bound for safety only.
_MAX_CHILDREN = 4096


def _children_for(model: str, provider: str, status: int) -> _Children:
    key = (model, provider, status) if provider else ("", "", status)
    children = _children.get(key)
    if children is None:
        model_label, provider_label = _labels(model, provider)
        children = _Children(
            metrics.REQUESTS.labels(model_label, provider_label, str(status)),
            metrics.REQUEST_LATENCY.labels(model_label, provider_label),
            metrics.TIME_TO_FIRST_TOKEN.labels(model_label, provider_label),
            metrics.TOKENS.labels(model_label, provider_label, "prompt"),
            metrics.TOKENS.labels(model_label, provider_label, "completion"),
            metrics.COST.labels(model_label, provider_label),
        )
        if len(_children) >= _MAX_CHILDREN:
            _children.clear()
        _children[key] = children
    return children


_call_site: logging.LogRecord | None = None


def _request_record(message: str, request_id: str, fields: dict[str, Any]) -> StructuredRecord:
    """The ``chat_request`` record, without the per-call cost of ``log.info(..., extra=...)``."""
    global _call_site
    if _call_site is None:  # made in the worker process, on first use
        line = request_done.__code__.co_firstlineno
        _call_site = log.makeRecord(log.name, logging.INFO, __file__, line, "", None, None, "request_done")
    return StructuredRecord.make(_call_site, logging.INFO, message, request_id, fields)


_MAX_LOGGED_MODEL = 200


def request_done(
    *,
    request_id: str,
    status: int,
    model: str,
    provider: str,
    key_id: int | None,
    streamed: bool,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost_nanos: int = 0,
    latency_ms: float = 0.0,
    ttft_ms: float | None = None,
    error_kind: str = "",
    generation_id: str = "",
) -> None:
    """One call per chat completion request, whatever its outcome.

    The log line carries the HTTP request id (the ``x-request-id`` the client saw)
    and, for a request that reached routing, the generation id (the Activity page's).
    """
    try:
        children = _children_for(model, provider, status)
        children.requests.inc()
        children.latency.observe(max(latency_ms, 0.0) / 1000)
        if ttft_ms is not None:
            children.ttft.observe(max(ttft_ms, 0.0) / 1000)
        if prompt_tokens > 0:
            children.prompt_tokens.inc(prompt_tokens)
        if completion_tokens > 0:
            children.completion_tokens.inc(completion_tokens)
        if cost_nanos > 0:
            children.cost.inc(cost_nanos / 1_000_000_000)
    except Exception:
        log.exception("recording metrics failed")
    if not log.isEnabledFor(logging.INFO):
        return
    if not generation_id and request_id.startswith("gen-"):
        generation_id = request_id
    try:
        # The client chose the model name and may have chosen the request id: every string
        # is redacted here, once, because the record skips the redaction filter.
        fields = redact_strings(
            {
                "request_id": current_request_id() or request_id,
                "event": "chat_request",
                "generation_id": generation_id or None,
                "key_id": key_id,
                "model": model[:_MAX_LOGGED_MODEL],  # the client's string: maybe a megabyte
                "provider": provider,
                "status": status,
                "streamed": streamed,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost_nanos": cost_nanos,
                "cost_usd": round(cost_nanos / 1_000_000_000, 9),
                "latency_ms": round(latency_ms, 1),
                "ttft_ms": None if ttft_ms is None else round(ttft_ms, 1),
                "error_kind": error_kind,
            }
        )
        request_id_field = fields.pop("request_id")
        message = f"chat completion {status} {fields['model'][:_MAX_LABEL]}"
        log.handle(_request_record(message, request_id_field, fields))
    except Exception:
        log.exception("writing the request log line failed")


def upstream_error(*, provider: str, kind: str) -> None:
    """One call per failed upstream attempt (kind: UpstreamError.kind)."""
    metrics.UPSTREAM_ERRORS.labels(provider[:_MAX_LABEL] or UNROUTED, kind[:_MAX_LABEL] or "unknown").inc()


def stream_opened() -> None:
    metrics.OPEN_STREAMS.inc()


def stream_closed() -> None:
    metrics.OPEN_STREAMS.dec()


def hold_opened() -> None:
    metrics.HOLDS_IN_FLIGHT.inc()


def hold_closed() -> None:
    metrics.HOLDS_IN_FLIGHT.dec()
