"""Database work from async code: one call, one hop to a small pool of long-lived threads.

(On PostgreSQL the hot path's two calls, the hold and the settlement, skip this hop:
``promptgrid.pgpool`` awaits them on native async connections. Everything else comes here.)

``sync_to_async``'s default (thread-sensitive) runs the call in a thread made for the
request; Django's connections are per thread, so every request opened a connection of
its own and, with persistent connections on, left it behind in a thread that is gone
(under load PostgreSQL refuses more clients). Here every call runs in the event loop's
shared executor instead: a few threads, each reusing its connection across requests,
which bounds a process to that many connections however many requests are in flight.

Each call is self-contained (its own transaction), so which thread runs it does not
matter. Connections follow Django's rules for ``CONN_MAX_AGE``: a connection past its
age, or one that raised a database error, is closed before the next call reuses the
thread, and with ``CONN_MAX_AGE = 0`` each call closes its connection when it ends.

``GATEWAY_DB_SHARED_THREADS = False`` (the test settings) keeps Django's thread-sensitive
hop: tests that wrap each test in a transaction need the request's queries on the
test's own connection.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError as DjangoInterfaceError
from django.db import OperationalError as DjangoOperationalError
from django.db import connections

P = ParamSpec("P")
T = TypeVar("T")


def _close_broken_or_old() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.connection is None or conn.in_atomic_block:
            continue
        close_at = getattr(conn, "close_at", None)
        if conn.errors_occurred or (close_at is not None and time.monotonic() >= close_at):
            conn.close()


def _run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    _close_broken_or_old()
    try:
        return fn(*args, **kwargs)
    finally:
        _close_broken_or_old()


async def db_call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run the sync ``fn`` (database work) in the shared executor and return its result."""
    shared = settings.GATEWAY_DB_SHARED_THREADS
    return await sync_to_async(functools.partial(_run, fn, *args, **kwargs), thread_sensitive=not shared)()


# The database is unreachable or dropped the connection (a restart, a failover, a killed
# backend): a request that meets one of these gets a 503 to retry, not a 500. The async
# pool's PoolTimeout is a psycopg.OperationalError.
DATABASE_DOWN: tuple[type[BaseException], ...] = (
    DjangoOperationalError,
    DjangoInterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
