"""Hooks the gateway calls at the end of each request: metrics and the request log.

The gateway calls these and nothing else for observability; what they record
(Prometheus metrics, one JSON log line) is decided here. They run on the event
loop, so they only touch memory (and the log handler); they never raise.
"""

from __future__ import annotations

import logging

from promptgrid.observability import metrics
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
    http_request_id = current_request_id() or request_id
    if not generation_id and request_id.startswith("gen-"):
        generation_id = request_id
    try:
        model_label, provider_label = _labels(model, provider)
        metrics.REQUESTS.labels(model_label, provider_label, str(status)).inc()
        metrics.REQUEST_LATENCY.labels(model_label, provider_label).observe(max(latency_ms, 0.0) / 1000)
        if ttft_ms is not None:
            metrics.TIME_TO_FIRST_TOKEN.labels(model_label, provider_label).observe(max(ttft_ms, 0.0) / 1000)
        if prompt_tokens > 0:
            metrics.TOKENS.labels(model_label, provider_label, "prompt").inc(prompt_tokens)
        if completion_tokens > 0:
            metrics.TOKENS.labels(model_label, provider_label, "completion").inc(completion_tokens)
        if cost_nanos > 0:
            metrics.COST.labels(model_label, provider_label).inc(cost_nanos / 1_000_000_000)
    except Exception:
        log.exception("recording metrics failed")
    log.info(
        "chat completion %s %s",
        status,
        model[:_MAX_LABEL],
        extra={
            "event": "chat_request",
            "request_id": http_request_id,
            "generation_id": generation_id or None,
            "key_id": key_id,
            "model": model,
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
        },
    )


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
