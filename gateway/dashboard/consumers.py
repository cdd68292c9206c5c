"""The live dashboard websocket: ``/ws/live/`` streams the signed-in user's own events.

Each connection joins its user's group (``gateway.dashboard.live_events.user_group``) and, for
an organisation's owners and admins, that organisation's group (they see every member's
activity); no other user's generation or balance can ever reach a page. Anonymous connections are
refused before joining anything.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from gateway.dashboard.live_events import organisation_group, session_group, user_group
from promptgrid.money import format_usd

# Close code for "not signed in": the page's script does not retry on it.
CLOSE_UNAUTHENTICATED = 4401


@database_sync_to_async
def _admin_of(user: Any) -> list[int]:
    """The organisations whose every member's activity this user sees (owners and admins)."""
    from accounts.organisations.models import Membership

    return list(
        Membership.objects.filter(
            user=user, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN]
        ).values_list("organisation_id", flat=True)
    )


class LiveConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    session_group: str | None = None
    organisation_groups: tuple[str, ...] = ()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.organisation_groups = tuple(organisation_group(pk) for pk in await _admin_of(user))
        for group in self.organisation_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if session_key:  # logout of this session closes the socket (session_ended)
            self.session_group = session_group(session_key)
            await self.channel_layer.group_add(self.session_group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        for group in self.organisation_groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.session_group:
            await self.channel_layer.group_discard(self.session_group, self.channel_name)

    async def session_ended(self, message: dict[str, Any]) -> None:
        await self.disconnect(CLOSE_UNAUTHENTICATED)  # leave the groups now: nothing more is sent
        self.group = self.session_group = None
        self.organisation_groups = ()
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The socket is push-only; a ping gets a pong so clients can check liveness.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong", "data": {}})

    async def live_event(self, message: dict[str, Any]) -> None:
        data = dict(message.get("data") or {})
        # Money is formatted here, by the one rounding rule, so pages never do arithmetic on it.
        for name in ("balance_nanos", "cost_nanos"):
            if isinstance(data.get(name), int):
                data[name.replace("_nanos", "_usd")] = format_usd(
                    data[name], 6 if name == "cost_nanos" else 2
                )
        await self.send_json({"event": message.get("event", ""), "data": data})
