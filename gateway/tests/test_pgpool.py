"""The async pool: built from DATABASES, one per event loop, closed with it, errors as Django's,
and the API's hold and settlement on it without a thread hop (PostgreSQL)."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings

import pytest
from django.db import DataError, connection

from gateway.tests.conftest import chat
from promptgrid import pgpool

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the async pool is PostgreSQL's")


def test_connection_parameters_are_django_s():
    database = {
        "NAME": "promptgrid",
        "USER": "pg",
        "PASSWORD": "pw",
        "HOST": "db.internal",
        "PORT": 5433,
        "OPTIONS": {"sslmode": "require", "server_side_binding": True, "isolation_level": 1, "pool": True},
    }
    assert pgpool.connection_kwargs(database) == {
        "dbname": "promptgrid",
        "user": "pg",
        "password": "pw",
        "host": "db.internal",
        "port": 5433,
        "sslmode": "require",
        "client_encoding": "UTF8",
        "autocommit": True,
        "application_name": pgpool.APPLICATION_NAME,
        "prepare_threshold": None,
    }
    options = {"application_name": "mine", "prepare_threshold": 5}
    kwargs = pgpool.connection_kwargs({"NAME": "p", "OPTIONS": options})
    assert (kwargs["application_name"], kwargs["prepare_threshold"]) == ("mine", 5)
    assert "host" not in kwargs and "user" not in kwargs


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_each_event_loop_has_its_pool_and_closes_it_when_it_ends():
    async def use() -> tuple[object, int]:
        pool = await pgpool.pool()
        assert await pgpool.pool() is pool
        return pool, await pgpool.fetch_value("SELECT %s::int + 1", [41])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first, answer = asyncio.run(use())
        second, _ = asyncio.run(use())
        gc.collect()
    assert answer == 42
    assert first is not second
    assert first.closed and second.closed
    assert pgpool._pools == {} and pgpool._closers == {}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_close_closes_this_loop_s_pool_and_the_next_use_opens_another():
    async def use_close_use() -> tuple[object, object]:
        first = await pgpool.pool()
        await pgpool.close()
        second = await pgpool.pool()
        assert await pgpool.fetch_value("SELECT 1", []) == 1
        return first, second

    first, second = asyncio.run(use_close_use())
    assert first.closed and second.closed and first is not second


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_database_errors_are_django_s_with_the_psycopg_error_as_cause():
    async def divide() -> None:
        await pgpool.fetch_value("SELECT 1 / %s::int", [0])

    with pytest.raises(DataError) as raised:
        asyncio.run(divide())
    assert raised.value.__cause__.sqlstate == "22012"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_api_holds_and_settles_on_the_pool_without_a_thread_hop(
    settings, monkeypatch, make_mock_model, make_customer, call_api
):
    from billing.models import Generation
    from gateway.pipeline import holds, settlement

    settings.GATEWAY_DB_ASYNC = True
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    start = customer.balance()
    hops: list[str] = []

    def counting(module):
        real = module.db_call

        async def db_call(fn, *args, **kwargs):
            hops.append(fn.__name__)
            return await real(fn, *args, **kwargs)

        return db_call

    monkeypatch.setattr(holds, "db_call", counting(holds))
    monkeypatch.setattr(settlement, "db_call", counting(settlement))

    result = call_api(chat(), customer.secret)

    assert result.status == 200, result.body
    assert hops == []
    generation = Generation.objects.get(user=customer.user)
    assert generation.cost_nanos > 0
    assert customer.balance() == start - generation.cost_nanos
    assert customer.held() == 0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_full_pool_queues_requests_and_serves_every_one(settings):
    settings.GATEWAY_DB_POOL_SIZE = 2
    busy = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'"

    async def burst() -> tuple[list[int], int]:
        async def one() -> int:
            return await pgpool.fetch_value(f"SELECT ({busy}) FROM pg_sleep(0.02)", [pgpool.APPLICATION_NAME])

        seen = await asyncio.gather(*(one() for _ in range(12)))
        return list(seen), (await pgpool.pool())._open

    seen, opened = asyncio.run(burst())
    assert len(seen) == 12 and max(seen) <= 2  # never more than the pool's size at once
    assert opened == 2


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_request_cancelled_while_waiting_loses_no_connection(settings):
    settings.GATEWAY_DB_POOL_SIZE = 1

    async def cancel_a_waiter() -> tuple[int, int, int]:
        holder = asyncio.ensure_future(pgpool.fetch_value("SELECT 1 FROM pg_sleep(0.1)", []))
        await asyncio.sleep(0.03)
        waiter = asyncio.ensure_future(pgpool.fetch_value("SELECT 2", []))
        await asyncio.sleep(0.01)
        waiter.cancel()
        assert await holder == 1
        third = await pgpool.fetch_value("SELECT 3", [])  # the one connection is free again
        pool = await pgpool.pool()
        return third, pool._open, len(pool._idle)

    assert asyncio.run(cancel_a_waiter()) == (3, 1, 1)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_loops_that_end_right_after_using_the_pool_end_at_once():
    async def use_and_leave() -> None:
        await pgpool.fetch_value("SELECT 1", [])

    started = time.monotonic()
    for _ in range(20):
        asyncio.run(use_and_leave())
    assert time.monotonic() - started < 20
    assert pgpool._pools == {} and pgpool._closers == {}
