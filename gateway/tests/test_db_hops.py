"""The API's database calls: a few shared threads, connections closed when broken or old."""

import threading
import time

import pytest
from django.db import connection

from promptgrid import db
from promptgrid.db import db_call


def _whoami() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return threading.get_ident(), cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
async def test_shared_mode_runs_calls_on_a_few_threads_not_one_per_call(settings):
    import asyncio

    settings.GATEWAY_DB_SHARED_THREADS = True
    results = await asyncio.gather(*(db_call(_whoami) for _ in range(40)))

    threads = {ident for ident, _ in results}
    assert all(value == 1 for _, value in results)
    assert threading.get_ident() not in threads
    # The event loop's default executor: min(32, cpus + 4) threads at most, whatever the load.
    assert len(threads) <= 32


@pytest.mark.django_db(transaction=True)
async def test_errors_from_the_call_reach_the_caller(settings):
    settings.GATEWAY_DB_SHARED_THREADS = True

    def boom() -> None:
        raise LookupError("no such hold")

    with pytest.raises(LookupError, match="no such hold"):
        await db_call(boom)


@pytest.fixture
def closes(monkeypatch) -> list[str]:
    """Record connection closes (SQLite's in-memory test database ignores real ones)."""
    calls: list[str] = []
    monkeypatch.setattr(connection, "close", lambda: calls.append(connection.alias))
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_raised_a_database_error_is_closed_before_reuse(closes, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    monkeypatch.setattr(connection, "close_at", None, raising=False)  # not old: only the error counts
    connection.errors_occurred = True
    try:
        db._close_broken_or_old()
    finally:
        connection.errors_occurred = False

    assert closes == ["default"]


@pytest.mark.django_db(transaction=True)
def test_a_healthy_young_connection_is_kept(closes, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    monkeypatch.setattr(connection, "close_at", None, raising=False)

    db._close_broken_or_old()

    assert closes == []


@pytest.mark.django_db(transaction=True)
def test_with_conn_max_age_zero_a_call_closes_its_connection_when_it_ends(closes, monkeypatch):
    assert connection.settings_dict["CONN_MAX_AGE"] == 0  # the test settings

    def query_then_expire() -> int:
        value = _whoami()[1]
        # What connect() sets with CONN_MAX_AGE = 0 (the in-memory test database never reconnects).
        monkeypatch.setattr(connection, "close_at", time.monotonic(), raising=False)
        return value

    assert db._run(query_then_expire) == 1

    assert closes == ["default"]


@pytest.mark.django_db(transaction=True)
def test_a_connection_inside_a_transaction_is_never_closed_under_it(closes):
    from django.db import transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        connection.errors_occurred = True
        try:
            db._close_broken_or_old()
        finally:
            connection.errors_occurred = False

    assert closes == []
