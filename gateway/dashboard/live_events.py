"""Live events for the dashboard: published to the owner's channel group only.

Events the dashboard understands (``/ws/live/``, ``gateway.dashboard.consumers.LiveConsumer``):

``"generation"``, after each settlement, payload::

    {"id": "gen-…", "model": "mock/echo", "status": "success",
     "prompt_tokens": 12, "completion_tokens": 7, "cost_nanos": 1900,
     "latency_ms": 35, "ttft_ms": 8, "created_at": "2026-…Z",
     "balance_nanos": 4999998100,   # the account balance after the charge, if known
     "count": 3}                    # how many generations this event stands for

``"balance"``, after any other balance change (grant, top-up, refund), payload::

    {"balance_nanos": 5000000000}

Only ``id`` is required: pages re-render their rows from the database on each event,
so an event only needs to say that something changed. That is why the gateway's
per-request events are coalesced (``publish_soon``): within one window
(``LIVE_EVENTS_WINDOW_MS``) a user's generations become one send that carries the
latest one's state, so a busy key costs a few Redis sends a second, not one per request.
The consumer adds ``balance_usd``/``cost_usd`` display strings for the nanos it finds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any
from weakref import WeakKeyDictionary

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_MS = 150


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def organisation_group(organisation_id: int) -> str:
    """The sockets of an organisation's owners and admins, who see every member's activity."""
    return f"org-{organisation_id}"


def session_group(session_key: str) -> str:
    """The sockets opened by one login session (hashed: the group name is no credential)."""
    return "session-" + hashlib.sha256(session_key.encode()).hexdigest()[:40]


@receiver(user_logged_out, dispatch_uid="gateway.dashboard.live_events.close_on_logout")
def _close_sockets_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # A socket stays open after the session it was opened with ends; tell it to close.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    layer = get_channel_layer()
    if session_key and layer is not None:
        async_to_sync(layer.group_send)(session_group(session_key), {"type": "session.ended"})


async def publish(user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """Send one event now. Fire and forget: a dashboard that is not listening must never
    slow or fail its caller. For rare events (balance changes), also from sync code."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "live.event", "event": event_type, "data": payload}
    # An organisation key's generation is news to the organisation's admins too (their
    # pages re-render the organisation's activity from the database).
    organisation_id = payload.get("organisation_id")
    groups = [user_group(user_id)]
    if isinstance(organisation_id, int):
        groups.append(organisation_group(organisation_id))
    try:
        for group in groups:
            await layer.group_send(group, message)
    except Exception:
        return


class _Pending:
    __slots__ = ("count", "payload")

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.count = 1


class _Window:
    """The events one event loop holds until the end of its current window."""

    __slots__ = ("pending", "task")

    def __init__(self) -> None:
        self.pending: dict[tuple[int, str], _Pending] = {}
        self.task: asyncio.Task[None] | None = None


# One window per event loop: a timer on a loop that has ended would never fire.
_windows: WeakKeyDictionary[asyncio.AbstractEventLoop, _Window] = WeakKeyDictionary()


def window_seconds() -> float:
    return max(int(getattr(settings, "LIVE_EVENTS_WINDOW_MS", DEFAULT_WINDOW_MS)), 0) / 1000


def publish_soon(user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """Coalesced ``publish`` for the request path: a dictionary update, never a round trip.

    The first event of a window starts it; later ones of the same user and type replace
    its payload (the latest state wins) and are counted. At the end of the window each
    user gets one send per event type. Must be called on the event loop that will
    deliver it (the server's); never raises.
    """
    try:
        loop = asyncio.get_running_loop()
        window = _windows.get(loop)
        if window is None:
            window = _windows[loop] = _Window()
        pending = window.pending.get((user_id, event_type))
        if pending is not None:
            pending.payload = payload
            pending.count += 1
            return
        window.pending[(user_id, event_type)] = _Pending(payload)
        if window.task is None:
            window.task = loop.create_task(_flush_after(window, window_seconds()))
    except Exception:  # no loop, or a loop shutting down: the page reloads from the database anyway
        logger.debug("could not queue a live event", exc_info=True)


async def _flush_after(window: _Window, delay: float) -> None:
    try:
        await asyncio.sleep(delay)
    finally:
        # Also when cancelled because the loop is ending (asyncio.run cancels the tasks that
        # are left and waits for them): what is pending still goes out, best effort.
        window.task = None
        await flush(window)


async def flush(window: _Window | None = None) -> None:
    """Send what is pending now (this loop's window unless one is given)."""
    if window is None:
        window = _windows.get(asyncio.get_running_loop())
        if window is None:
            return
    batch, window.pending = window.pending, {}
    for (user_id, event_type), pending in batch.items():
        await publish(user_id, event_type, {**pending.payload, "count": pending.count})
