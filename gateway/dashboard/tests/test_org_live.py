"""An organisation's owners and admins get its members' generations live; nobody else does."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from gateway.dashboard import live_events as events
from gateway.tests.orgs.world import make_org
from promptgrid.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _world() -> dict:
    world = make_org()
    world.add("dev")
    world.add("boss", role="admin")
    world.add("peer")
    other = make_org(name="Other", owner_name="elsewhere")
    cookies = {}
    for name, user in (
        ("boss", world["boss"].user),
        ("peer", world["peer"].user),
        ("stranger", other["owner"].user),
    ):
        client = Client()
        client.force_login(user)
        cookies[name] = f"sessionid={client.cookies['sessionid'].value}".encode()
    return {"cookies": cookies, "org": world.organisation.pk, "dev": world["dev"].user.pk}


async def _socket(cookie: bytes) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"origin", b"http://127.0.0.1"), (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_a_members_generation_reaches_the_admins_dashboard_only():
    world = await _world()
    sockets = {name: await _socket(cookie) for name, cookie in world["cookies"].items()}

    await events.publish(world["dev"], "generation", {"id": "gen-team", "organisation_id": world["org"]})

    message = await sockets["boss"].receive_json_from(timeout=3)
    assert message["data"]["id"] == "gen-team"
    await asyncio.sleep(0.3)
    assert await sockets["peer"].receive_nothing()  # a member sees their own activity only
    assert await sockets["stranger"].receive_nothing()
    for socket in sockets.values():
        await socket.disconnect()
