"""The live websocket: only the signed-in owner's events reach a page."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from gateway.dashboard import live_events as events
from gateway.dashboard.consumers import CLOSE_UNAUTHENTICATED
from gateway.tests.conftest import _call, chat
from promptgrid.asgi import application
from tests.factories import UserFactory

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


# The gateway's per-request events are coalesced (events.publish_soon): one send per user and
# window, carrying the latest state.


async def _received(communicator: WebsocketCommunicator, quiet: float = 0.5) -> list[dict]:
    """Every message until the socket has been quiet for ``quiet`` seconds."""
    messages = []
    while not await communicator.receive_nothing(timeout=quiet):
        messages.append(await communicator.receive_json_from(timeout=1))
    return messages


async def test_a_burst_of_generations_arrives_with_the_last_ones_state():
    user_id, cookie = await _session_cookie()
    communicator, connected, _ = await _connect(cookie)
    assert connected

    for n in range(1, 21):
        events.publish_soon(user_id, "generation", {"id": f"gen-{n}", "balance_nanos": 5_000_000_000 - n})

    (message,) = await _received(communicator)
    assert message["event"] == "generation"
    assert message["data"]["id"] == "gen-20"
    assert message["data"]["balance_nanos"] == 4_999_999_980
    assert message["data"]["count"] == 20
    await communicator.disconnect()


async def test_coalesced_events_reach_only_their_owner():
    alice_id, alice_cookie = await _session_cookie()
    bob_id, bob_cookie = await _session_cookie()
    alice, ok_a, _ = await _connect(alice_cookie)
    bob, ok_b, _ = await _connect(bob_cookie)
    assert ok_a and ok_b

    for n in range(5):
        events.publish_soon(alice_id, "generation", {"id": f"gen-alice-{n}", "balance_nanos": 100 - n})
        events.publish_soon(bob_id, "generation", {"id": f"gen-bob-{n}", "balance_nanos": 200 - n})

    (to_alice,) = await _received(alice)
    (to_bob,) = await _received(bob)
    assert (to_alice["data"]["id"], to_alice["data"]["balance_nanos"]) == ("gen-alice-4", 96)
    assert (to_bob["data"]["id"], to_bob["data"]["balance_nanos"]) == ("gen-bob-4", 196)
    await alice.disconnect()
    await bob.disconnect()


async def test_a_steady_stream_costs_about_one_send_per_window(settings):
    settings.LIVE_EVENTS_WINDOW_MS = 100
    user_id, cookie = await _session_cookie()
    communicator, connected, _ = await _connect(cookie)
    assert connected

    started = time.monotonic()
    for n in range(40):
        events.publish_soon(user_id, "generation", {"id": f"gen-{n}", "balance_nanos": 1_000 - n})
        await asyncio.sleep(0.015)
    elapsed = time.monotonic() - started

    messages = await _received(communicator)
    assert 2 <= len(messages) <= elapsed / 0.1 + 2
    assert sum(m["data"]["count"] for m in messages) == 40  # every generation is accounted for
    assert messages[-1]["data"]["balance_nanos"] == 961
    await communicator.disconnect()


async def test_quick_generations_through_the_gateway_update_an_open_dashboard(make_mock_model, make_customer):
    await database_sync_to_async(make_mock_model)(input_price="2", output_price="4")
    customer = await database_sync_to_async(make_customer)()

    @database_sync_to_async
    def login() -> bytes:
        client = Client()
        client.force_login(customer.user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    communicator, connected, _ = await _connect(await login())
    assert connected

    results = [await _call(chat(text=f"question {n}"), customer.secret) for n in range(5)]
    assert [r.status for r in results] == [200] * 5

    messages = await _received(communicator)
    assert messages and all(m["event"] == "generation" for m in messages)
    assert sum(m["data"]["count"] for m in messages) == 5
    last = messages[-1]["data"]
    assert last["id"] == results[-1].json()["id"]
    # The page re-reads the balance on the event: by then every charge is in it.
    balance = await database_sync_to_async(customer.balance)()
    assert balance == 10_000_000_000 - sum(round(r.json()["usage"]["cost"] * 10**9) for r in results)
    assert last["balance_nanos"] in (None, balance)
    await communicator.disconnect()


async def test_pending_events_still_go_out_when_the_event_loop_ends():
    user_id, cookie = await _session_cookie()
    communicator, connected, _ = await _connect(cookie)
    assert connected

    async def last_request_before_shutdown() -> None:
        events.publish_soon(user_id, "generation", {"id": "gen-last"})

    # Another loop, as a worker's: it ends right after queueing, before its window is over.
    await asyncio.to_thread(asyncio.run, last_request_before_shutdown())

    (message,) = await _received(communicator)
    assert message["data"]["id"] == "gen-last"
    await communicator.disconnect()


def test_a_credit_is_announced_to_the_owners_dashboard_after_commit(django_capture_on_commit_callbacks):
    """Billing publishes through promptgrid.live; the dashboard's subscriber sends it to the group."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from billing import services

    account = services.account_for_user(user=UserFactory())
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.user_group(account.user_id), channel)
    with django_capture_on_commit_callbacks(execute=True):
        services.credits_grant(account=account, amount_nanos=42)
    message = async_to_sync(layer.receive)(channel)
    assert message == {"type": "live.event", "event": "balance", "data": {"balance_nanos": 42}}


async def test_logout_closes_the_sessions_open_socket():
    user = await database_sync_to_async(UserFactory)()
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator, connected, _ = await _connect(cookie)
    assert connected

    await database_sync_to_async(client.post)("/accounts/logout/")

    closed = await communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    await events.publish(user.pk, "generation", {"id": "gen-after-logout"})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
