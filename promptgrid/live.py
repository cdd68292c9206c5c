"""Live events: the one hook through which billing and the gateway tell open pages that
something changed, without knowing who listens.

The dashboard subscribes at start-up (``gateway.dashboard.apps``) and turns events into
websocket sends (``gateway.dashboard.live_events``: payloads, coalescing, groups). A
process with no subscriber (a management command, a test of billing alone) publishes into
nothing. A hook rather than publishing from the gateway after settlement, because balance
changes also come from places the gateway never sees: grants, redeem codes, Stripe.

Both calls are fire and forget: a subscriber that fails must never fail its caller.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Subscriber(Protocol):
    def publish_soon(self, user_id: int, event_type: str, payload: dict[str, Any]) -> None: ...

    async def publish(self, user_id: int, event_type: str, payload: dict[str, Any]) -> None: ...


_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> None:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def publish_soon(user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """For the request path: queued, no round trip; must run on the serving event loop."""
    for subscriber in _subscribers:
        try:
            subscriber.publish_soon(user_id, event_type, payload)
        except Exception:
            logger.debug("a live subscriber refused an event", exc_info=True)


async def publish(user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """Send now, for rare events (balance changes); from sync code through ``async_to_sync``."""
    for subscriber in _subscribers:
        try:
            await subscriber.publish(user_id, event_type, payload)
        except Exception:
            logger.debug("a live subscriber refused an event", exc_info=True)
