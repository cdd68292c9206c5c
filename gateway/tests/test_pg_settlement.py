"""The hold and the settlement on the async pool (``GATEWAY_DB_ASYNC``): the same money and
the same rows as the sync path, refusals as the same exceptions, never a double charge.

PostgreSQL only. The pool has connections of its own, so the data is committed
(``transaction=True``); each test drives the async side with ``asyncio.run``, whose end
also closes that loop's pool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import psycopg
import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from billing import pg_async, services
from billing.models import CreditAccount, Generation, Hold, LedgerEntry, Shortfall
from catalog.snapshot import get_snapshot
from gateway.pipeline import holds, settlement
from gateway.pipeline.flight import new_generation_id
from gateway.providers.base import Usage
from promptgrid import pgpool

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the async pool is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

T = TypeVar("T")

# $1/M input, $2/M output: 1000 and 2000 nanos a token.
IN, OUT = 1000, 2000
PROMPT_BOUND = 100
COST = (24 - 4) * IN + 20 * OUT  # the outcome's usage: 4 of its 24 prompt tokens are free cache reads


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(autouse=True)
def async_db(settings):
    settings.GATEWAY_DB_ASYNC = True
    settings.CATALOG_CACHE_SECONDS = 60  # the snapshot built by ``endpoint`` serves the event loop too


@pytest.fixture
def endpoint(make_mock_model):
    make_mock_model(input_price="1", output_price="2", max_output_tokens=1000)
    return get_snapshot().models["mock/echo"].endpoints[0]


def _reserve_kwargs(customer: Any, endpoint: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "user_id": customer.user.pk,
        "account_id": customer.account.pk,
        "api_key_id": customer.key.pk,
        "endpoint": endpoint,
        "prompt_tokens": PROMPT_BOUND,
        "requested_max_tokens": 50,
        "n": 1,
        "generation_id": new_generation_id(),
        **overrides,
    }


def _outcome(customer: Any, endpoint: Any, reservation: holds.Reservation, generation_id: str, **fields: Any):
    return settlement.Outcome(
        generation_id=generation_id,
        user_id=customer.user.pk,
        api_key_id=customer.key.pk,
        endpoint=endpoint,
        model_id=get_snapshot().models["mock/echo"].id,
        hold_id=reservation.hold_id,
        streamed=True,
        created_at=timezone.now(),
        usage=Usage(prompt_tokens=24, completion_tokens=20, cached_tokens=4, reasoning_tokens=3),
        finish_reason="stop",
        native_finish_reason="end_turn",
        ttft_ms=12,
        latency_ms=34,
        upstream_id="up-1",
        **fields,
    )


LOGGED = {
    "prompt_text": [{"role": "user", "content": "héllo ✓", "n": 1.5, "deep": {"z": None, "a": [True]}}],
    "completion_text": "réponse",
    "attempts": [{"endpoint": 3, "status": 200, "ms": 41}],
}
NOT_LOGGED = {"prompt_text": None, "completion_text": None, "attempts": []}


def _row(generation_id: str) -> dict[str, Any]:
    row = Generation.objects.filter(pk=generation_id).values().get()
    with connection.cursor() as cursor:  # SQL NULL and JSON null are different rows
        cursor.execute("SELECT prompt_text IS NULL FROM gateway_generation WHERE id = %s", [generation_id])
        row["prompt_text_is_sql_null"] = cursor.fetchone()[0]
    for name in ("id", "user_id", "api_key_id", "created_at"):
        row.pop(name)
    return row


@pytest.mark.parametrize("logged", [LOGGED, NOT_LOGGED], ids=["logged", "not-logged"])
def test_a_hold_and_its_settlement_move_the_money_and_write_the_row_as_the_sync_path_does(
    make_customer, endpoint, logged
):
    sync_customer, async_customer = make_customer(), make_customer()
    start = async_customer.balance()

    sync_kwargs = _reserve_kwargs(sync_customer, endpoint)
    sync_reservation = holds.reserve(**sync_kwargs)
    sync_settled = settlement.settle(
        _outcome(sync_customer, endpoint, sync_reservation, sync_kwargs["generation_id"], **logged)
    )

    async def through_the_pool() -> tuple[holds.Reservation, settlement.Settled]:
        kwargs = _reserve_kwargs(async_customer, endpoint)
        reservation = await holds.reserve_async(**kwargs)
        assert async_customer.account.pk == reservation.account_id
        held = await pgpool.fetch_value(
            "SELECT held_nanos FROM billing_creditaccount WHERE id = %s", [reservation.account_id]
        )
        assert held == reservation.amount_nanos
        outcome = _outcome(async_customer, endpoint, reservation, kwargs["generation_id"], **logged)
        return reservation, await settlement.settle_shielded(outcome)

    reservation, settled = run(through_the_pool())

    assert reservation.amount_nanos == sync_reservation.amount_nanos == PROMPT_BOUND * IN + 50 * OUT
    assert (reservation.max_tokens, reservation.capped) == (50, False)
    cost = COST
    assert settled == sync_settled == settlement.Settled(cost_nanos=cost, balance_nanos=None)
    assert async_customer.balance() == start - cost
    assert async_customer.held() == 0
    entry = LedgerEntry.objects.get(account=async_customer.account, kind=LedgerEntry.Kind.USAGE)
    sync_entry = LedgerEntry.objects.get(account=sync_customer.account, kind=LedgerEntry.Kind.USAGE)
    assert (
        (entry.amount_nanos, entry.memo) == (sync_entry.amount_nanos, sync_entry.memo) == (-cost, entry.memo)
    )
    assert entry.idempotency_key == f"usage:{entry.generation_id}"
    assert Hold.objects.get(pk=reservation.hold_id).status == Hold.Status.SETTLED
    async_customer.key.refresh_from_db()
    assert (async_customer.key.held_nanos, async_customer.key.usage_nanos) == (0, cost)

    async_row, sync_row = _row(entry.generation_id), _row(sync_entry.generation_id)
    assert async_row == sync_row
    assert async_row["prompt_text"] == logged["prompt_text"]
    assert async_row["prompt_text_is_sql_null"] is (logged["prompt_text"] is None)


def test_refusals_are_the_sync_path_s_exceptions(make_customer, endpoint):
    poor = make_customer(credits_nanos=1000)
    limited = make_customer(limit_nanos=500)

    async def refused() -> None:
        with pytest.raises(services.InsufficientCredits):
            await pg_async.hold_place(account_id=poor.account.pk, amount_nanos=1001, ttl_seconds=60)
        with pytest.raises(services.KeyLimitReached):
            await pg_async.hold_place(
                account_id=limited.account.pk, amount_nanos=501, ttl_seconds=60, api_key_id=limited.key.pk
            )
        generation = Generation(
            id=new_generation_id(), user_id=poor.user.pk, model_slug="m", created_at=timezone.now()
        )
        with pytest.raises(Hold.DoesNotExist):
            await pg_async.generation_settle(generation=generation, hold_id=987654321, cost_nanos=1)

    run(refused())
    assert (poor.held(), limited.held()) == (0, 0)
    assert not Generation.objects.exists()  # the row rode in the failed statement


@pytest.mark.parametrize(
    ("credits", "fields"),
    [
        (PROMPT_BOUND * IN + 50 * OUT - 1, {}),  # the client's max_tokens is not affordable
        (PROMPT_BOUND * IN + 1000 * OUT - 1, {"requested_max_tokens": None}),  # capped to what is
        (PROMPT_BOUND * IN + 10 * OUT, {"requested_max_tokens": None}),  # not even a short answer
    ],
)
def test_a_refused_first_hold_is_explained_or_resized_as_by_reserve(make_customer, endpoint, credits, fields):
    sync_customer, async_customer = make_customer(credits_nanos=credits), make_customer(credits_nanos=credits)

    def outcome(call: Callable[[], Any]) -> Any:
        try:
            reservation = call()
        except holds.HoldRefused as refusal:
            return ("refused", refusal.code, refusal.message)
        return ("placed", reservation.amount_nanos, reservation.max_tokens, reservation.capped)

    sync = outcome(lambda: holds.reserve(**_reserve_kwargs(sync_customer, endpoint, **fields)))
    through_pool = outcome(
        lambda: run(holds.reserve_async(**_reserve_kwargs(async_customer, endpoint, **fields)))
    )
    assert through_pool == sync
    assert async_customer.held() == sync_customer.held()


def test_settling_twice_charges_once(make_customer, endpoint):
    customer = make_customer()
    start = customer.balance()
    kwargs = _reserve_kwargs(customer, endpoint)

    async def twice() -> None:
        reservation = await holds.reserve_async(**kwargs)
        outcome = _outcome(customer, endpoint, reservation, kwargs["generation_id"], **NOT_LOGGED)
        await settlement.settle_shielded(outcome)
        with pytest.raises(IntegrityError):  # as the sync path: the row is there already
            await settlement.settle_async(outcome)
        # Shielded, the second try finds its row there: settled already, nothing recorded.
        assert await settlement.settle_shielded(outcome) == settlement.Settled(COST, None)

    run(twice())
    assert customer.balance() == start - COST
    assert LedgerEntry.objects.filter(account=customer.account, kind=LedgerEntry.Kind.USAGE).count() == 1
    assert not Shortfall.objects.exists()


def test_concurrent_holds_on_one_account_never_overdraw(make_customer, settings):
    amount = 1_000_000
    customer = make_customer(credits_nanos=8 * amount + amount // 2)

    async def forty() -> list[Any]:
        attempts = (
            pg_async.hold_place(
                account_id=customer.account.pk,
                amount_nanos=amount,
                ttl_seconds=60,
                api_key_id=customer.key.pk,
                generation_id=new_generation_id(),
            )
            for _ in range(40)
        )
        return await asyncio.gather(*attempts, return_exceptions=True)

    results = run(forty())
    placed = [r for r in results if isinstance(r, services.PlacedHold)]
    refused = [r for r in results if isinstance(r, services.InsufficientCredits)]
    assert (len(placed), len(refused)) == (8, 32)
    account = CreditAccount.objects.get(pk=customer.account.pk)
    assert account.held_nanos == 8 * amount <= account.balance_nanos
    assert Hold.objects.filter(account=account, status=Hold.Status.OPEN).count() == 8


# -- connections that die -----------------------------------------------------------------------


async def _kill_pool_backends() -> int:
    """Terminate the pool's server processes and wait until they are gone; how many there were."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()"
        " AND pid <> pg_backend_pid()"
    )
    kwargs = pgpool.connection_kwargs(connection.settings_dict)
    kwargs["application_name"] = "pg_async test"
    async with await psycopg.AsyncConnection.connect(**kwargs) as admin:
        pids = [pid for (pid,) in await (await admin.execute(query, [pgpool.APPLICATION_NAME])).fetchall()]
        for pid in pids:
            await admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(200):
            if not await (await admin.execute(query, [pgpool.APPLICATION_NAME])).fetchall():
                break
            await asyncio.sleep(0.01)
    return len(pids)


def _request(customer: Any, endpoint: Any) -> Callable[[], Coroutine[Any, Any, holds.Reservation]]:
    async def one() -> holds.Reservation:
        kwargs = _reserve_kwargs(customer, endpoint)
        reservation = await holds.reserve_async(**kwargs)
        outcome = _outcome(customer, endpoint, reservation, kwargs["generation_id"], **NOT_LOGGED)
        await settlement.settle_shielded(outcome)
        return reservation

    return one


def test_a_request_after_the_pool_s_connections_were_killed_still_works(
    make_customer, endpoint, settings, caplog
):
    customer = make_customer()
    start = customer.balance()
    request = _request(customer, endpoint)

    async def kill_between_requests() -> int:
        await request()
        killed = await _kill_pool_backends()
        await request()  # the pool's check drops the dead connections; no statement ran on them
        return killed

    started = time.monotonic()
    assert run(kill_between_requests()) >= 1  # the pool opens connections as they are needed
    assert time.monotonic() - started < 2  # no back-off between the dead connections
    assert "running its retry" not in caplog.text  # found dead before use: nothing was sent on them
    assert customer.balance() == start - 2 * COST
    assert customer.held() == 0


def test_a_statement_sent_on_a_dead_connection_is_retried_once_without_a_second_hold(
    make_customer, endpoint, monkeypatch, caplog
):
    customer = make_customer()
    start = customer.balance()
    request = _request(customer, endpoint)
    check = pgpool._closed_by_server
    skipped: list[bool] = []

    def check_but_the_first(conn: Any) -> bool:
        if not skipped:  # as if the server closed it between the check and the statement
            skipped.append(True)
            return False
        return check(conn)

    async def kill_unseen() -> None:
        await request()
        await _kill_pool_backends()
        monkeypatch.setattr(pgpool, "_closed_by_server", check_but_the_first)
        await request()

    run(kill_unseen())
    assert skipped == [True]
    assert "running its retry" in caplog.text
    assert customer.balance() == start - 2 * COST
    assert customer.held() == 0
    assert Hold.objects.filter(account=customer.account).count() == 2


@pytest.mark.parametrize("statement", ["hold", "settlement"])
def test_a_connection_lost_after_its_statement_committed_changes_nothing_more(
    make_customer, endpoint, monkeypatch, statement
):
    """The worst case: the statement committed, then the answer was lost with the connection."""
    customer = make_customer()
    start = customer.balance()
    execute = pgpool._execute
    lost: list[str] = []

    async def commit_then_lose(conn: Any, query: str, params: Any) -> Any:
        value = await execute(conn, query, params)
        if query.lstrip().upper().startswith("SELECT BILLING_HOLD_PLACE" if statement == "hold" else "WITH"):
            if not lost:
                lost.append(query)
                await conn.close()
                raise psycopg.OperationalError("server closed the connection unexpectedly")
        return value

    monkeypatch.setattr(pgpool, "_execute", commit_then_lose)
    reservation = run(_request(customer, endpoint)())

    assert len(lost) == 1
    assert customer.balance() == start - COST
    assert customer.held() == 0
    holds_placed = Hold.objects.filter(account=customer.account)
    assert [h.pk for h in holds_placed] == [reservation.hold_id]
    assert LedgerEntry.objects.filter(account=customer.account, kind=LedgerEntry.Kind.USAGE).count() == 1
    assert Generation.objects.filter(user=customer.user).count() == 1


def test_a_hold_whose_backend_is_killed_mid_statement_is_placed_once(make_customer, endpoint, caplog):
    """The hold waits on the account's row lock; its backend is terminated there (the statement
    rolls back), so the retry places it once the lock is free."""
    customer = make_customer()
    kwargs = _reserve_kwargs(customer, endpoint)

    async def killed_while_waiting() -> holds.Reservation:
        await pgpool.fetch_value("SELECT 1", [])  # the pool is open
        admin_kwargs = pgpool.connection_kwargs(connection.settings_dict)
        admin_kwargs.update(application_name="pg_async test", autocommit=False)
        async with await psycopg.AsyncConnection.connect(**admin_kwargs) as locker:
            await locker.execute(
                "SELECT 1 FROM billing_creditaccount WHERE id = %s FOR UPDATE", [customer.account.pk]
            )
            hold = asyncio.ensure_future(holds.reserve_async(**kwargs))
            waiting = (
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'"
            )
            async with await psycopg.AsyncConnection.connect(**{**admin_kwargs, "autocommit": True}) as admin:
                for _ in range(500):
                    pids = await (await admin.execute(waiting, [pgpool.APPLICATION_NAME])).fetchall()
                    if pids:
                        break
                    await asyncio.sleep(0.01)
                assert len(pids) == 1
                await admin.execute("SELECT pg_terminate_backend(%s)", [pids[0][0]])
                await asyncio.sleep(0.2)  # the retry now waits on the lock in turn
            await locker.rollback()
        return await hold

    reservation = run(killed_while_waiting())
    assert "running its retry" in caplog.text
    assert customer.held() == reservation.amount_nanos
    assert [h.pk for h in Hold.objects.filter(account=customer.account)] == [reservation.hold_id]
