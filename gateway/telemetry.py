"""Hooks the gateway calls at the end of each request: metrics and the request log.

The gateway calls these and nothing else for observability; what they record
(Prometheus metrics, one JSON log line) is decided here.
"""

from __future__ import annotations


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
) -> None:
    """One call per chat completion request, whatever its outcome."""


def upstream_error(*, provider: str, kind: str) -> None:
    """One call per failed upstream attempt (kind: UpstreamError.kind)."""


def stream_opened() -> None:
    pass


def stream_closed() -> None:
    pass


def hold_opened() -> None:
    pass


def hold_closed() -> None:
    pass
