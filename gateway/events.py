"""Live events for the dashboard: published to the owner's channel group only."""

from __future__ import annotations

from typing import Any

from channels.layers import get_channel_layer


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


async def publish(user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """Fire and forget: a dashboard that is not listening must never slow a request.

    Events the dashboard understands (``/ws/live/``, ``gateway.consumers.LiveConsumer``):

    ``"generation"``, published after each settlement, payload::

        {"id": "gen-…", "model": "mock/echo", "status": "success",
         "prompt_tokens": 12, "completion_tokens": 7, "cost_nanos": 1900,
         "latency_ms": 35, "ttft_ms": 8, "created_at": "2026-…Z",
         "balance_nanos": 4999998100}   # the account balance after the charge, if known

    ``"balance"``, after any other balance change (grant, top-up, refund), payload::

        {"balance_nanos": 5000000000}

    Only ``id`` is required: pages re-render their rows from the database on each
    event, so the payload only needs to say that something changed. The consumer
    adds ``balance_usd``/``cost_usd`` display strings for the nanos it finds.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(
            user_group(user_id), {"type": "live.event", "event": event_type, "data": payload}
        )
    except Exception:
        return
