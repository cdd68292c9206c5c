"""The live websocket: only the signed-in owner's events reach a page."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from gateway import events
from gateway.consumers import CLOSE_UNAUTHENTICATED
from gateway.tests.dashboard_factories import UserFactory
from promptgrid.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://127.0.0.1")


@database_sync_to_async  # closes its thread's connection afterwards
def _session_cookie() -> tuple[int, bytes]:
    user = UserFactory()
    client = Client()
    client.force_login(user)
    return user.pk, f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(cookie: bytes | None) -> tuple[WebsocketCommunicator, bool, int | None]:
    headers = [ORIGIN] + ([(b"cookie", cookie)] if cookie else [])
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_anonymous_connection_is_refused():
    communicator, connected, code = await _connect(None)
    assert not connected
    assert code == CLOSE_UNAUTHENTICATED
    await communicator.disconnect()


async def test_owner_gets_their_generation_with_money_formatted():
    user_id, cookie = await _session_cookie()
    communicator, connected, _ = await _connect(cookie)
    assert connected
    await events.publish(
        user_id, "generation", {"id": "gen-1", "cost_nanos": 1_900, "balance_nanos": 4_250_000_000}
    )
    message = await communicator.receive_json_from(timeout=3)
    assert message["event"] == "generation"
    assert message["data"]["id"] == "gen-1"
    assert message["data"]["balance_usd"] == "$4.25"
    assert message["data"]["cost_usd"] == "$0.000002"
    await communicator.disconnect()


async def test_other_users_events_never_arrive():
    alice_id, alice_cookie = await _session_cookie()
    bob_id, bob_cookie = await _session_cookie()
    alice, ok_a, _ = await _connect(alice_cookie)
    bob, ok_b, _ = await _connect(bob_cookie)
    assert ok_a and ok_b
    await events.publish(alice_id, "generation", {"id": "gen-alice"})
    assert (await alice.receive_json_from(timeout=3))["data"]["id"] == "gen-alice"
    assert await bob.receive_nothing(timeout=0.3)
    await events.publish(bob_id, "balance", {"balance_nanos": 1})
    assert (await bob.receive_json_from(timeout=3))["event"] == "balance"
    assert await alice.receive_nothing(timeout=0.3)
    await alice.disconnect()
    await bob.disconnect()


async def test_foreign_origin_is_refused():
    _, cookie = await _session_cookie()
    communicator = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"origin", b"http://evil.example"), (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()
