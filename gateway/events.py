"""Live events for the dashboard: published to the owner's channel group only."""

from __future__ import annotations

from typing import Any

from channels.layers import get_channel_layer


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


async def publish(user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """Fire and forget: a dashboard that is not listening must never slow a request."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(
            user_group(user_id), {"type": "live.event", "event": event_type, "data": payload}
        )
    except Exception:
        return
