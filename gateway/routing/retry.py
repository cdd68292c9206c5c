"""When to try an upstream again, and how long to wait first.

Bounded: at most ``ROUTING_MAX_RETRIES`` retries of one endpoint and
``ROUTING_MAX_ATTEMPTS`` upstream calls per request, all before the first byte
reaches the client (after that nothing is retried: the client already has part
of an answer). The wait is exponential with full jitter, so processes that saw
the same failure do not come back in step; a provider's Retry-After is honoured
when it is short enough to be worth waiting for (``ROUTING_RETRY_AFTER_CAP_SECONDS``),
otherwise the request moves on to the next endpoint at once.
"""

from __future__ import annotations

import random

from django.conf import settings

from gateway.providers.base import UpstreamError

# Kinds that say "this endpoint, not this request": worth another endpoint but not the same one.
_ENDPOINT_FAULTS = frozenset({"auth", "not_found", "bad_response"})


def may_fall_back(error: UpstreamError) -> bool:
    """Another endpoint may succeed where this one failed (the request itself is not at fault)."""
    return error.retryable or error.kind in _ENDPOINT_FAULTS


def backoff_seconds(retry: int, *, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff before retry number ``retry`` (1-based)."""
    base = float(settings.ROUTING_BACKOFF_BASE_SECONDS)
    cap = float(settings.ROUTING_BACKOFF_MAX_SECONDS)
    ceiling = min(cap, base * (2 ** (retry - 1)))
    return (rng or random).uniform(0, ceiling)


def retry_delay(error: UpstreamError, retry: int) -> float | None:
    """Seconds to wait before retrying the same endpoint, or None to move on instead.

    Retry-After longer than the cap means the endpoint will not recover in time
    for this request: better to try the next one now than to make the client wait.
    """
    if not error.retryable or retry > settings.ROUTING_MAX_RETRIES:
        return None
    if error.retry_after is not None:
        if error.retry_after > float(settings.ROUTING_RETRY_AFTER_CAP_SECONDS):
            return None
        return error.retry_after
    return backoff_seconds(retry)
