"""Statements awaited in the event loop on a small pool of native async psycopg connections.

The hot path's two database calls (placing a hold, settling) are one statement each. Run
through ``promptgrid.db.db_call`` they cost a hop to an executor thread and back plus Django's
cursor wrappers; here they are awaited on a small ``AsyncConnectionPool`` (below) in the
event loop.

* One pool per event loop (in practice, per worker process), opened on first use and closed
  when its loop shuts down (``asyncio.run`` and ``asyncio.Runner`` close async generators
  last; the pool rides on one) or by ``close()``.
* Connections are autocommit, so each statement is its own transaction, as on Django's
  connections; they are built from ``DATABASES["default"]`` as Django builds its own.
* A connection taken from the pool is checked without a round trip: an idle connection has
  nothing to read, so a readable socket means the server closed it (a terminated backend
  sends its reason, then EOF; a restarted server closes them all). It is dropped and the
  next one is taken, at once.
* A connection that dies under a statement leaves the outcome unknown: the statement may
  have committed. It is never re-sent as is; a caller may name a ``retry`` statement, safe
  to run whether or not the first one committed, which is run once on a fresh connection.

psycopg errors reach callers as Django's database exceptions (cause: the psycopg error), as
they would through a Django cursor.
"""

from __future__ import annotations

import asyncio
import logging
import select
from collections import deque
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, NoReturn

import psycopg
from django.conf import settings
from django.db import utils as db_utils

logger = logging.getLogger(__name__)

Params = Sequence[Any]

# Django's OPTIONS that are not libpq/psycopg connection parameters (see Django's
# postgresql backend, get_connection_params).
_DJANGO_ONLY_OPTIONS = ("assume_role", "isolation_level", "pool", "server_side_binding", "cursor_factory")

APPLICATION_NAME = "promptgrid gateway pool"

_pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool] = {}
_closers: dict[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = {}


def enabled() -> bool:
    """Whether the hold and the settlement take this path (``GATEWAY_DB_ASYNC``)."""
    return settings.GATEWAY_DB_ASYNC


def connection_kwargs(database: Mapping[str, Any]) -> dict[str, Any]:
    """psycopg connection parameters for a Django ``DATABASES`` entry, as Django makes them."""
    kwargs: dict[str, Any] = {
        key: value for key, value in database.get("OPTIONS", {}).items() if key not in _DJANGO_ONLY_OPTIONS
    }
    if database.get("NAME"):
        kwargs["dbname"] = database["NAME"]
    for key in ("USER", "PASSWORD", "HOST", "PORT"):
        if database.get(key):
            kwargs[key.lower()] = database[key]
    kwargs["client_encoding"] = "UTF8"
    kwargs["autocommit"] = True
    kwargs.setdefault("application_name", APPLICATION_NAME)  # tells them apart in pg_stat_activity
    # Like Django: no server-side prepared statements unless OPTIONS asks (poolers such as
    # PgBouncer in transaction mode do not carry them between clients).
    kwargs.setdefault("prepare_threshold", None)
    return kwargs


def _closed_by_server(conn: psycopg.AsyncConnection[Any]) -> bool:
    """No round trip: an idle connection has nothing to read, so a readable socket means the
    server closed it (a terminated backend sends its reason, then EOF)."""
    if conn.closed or conn.broken:
        return True
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class AsyncConnectionPool:
    """At most ``max_size`` connections, opened when first needed and reused in turn.

    Deliberately small: a connection free when asked for (the common case) costs a deque
    pop, and a request that must wait awaits one future, where psycopg_pool's general pool
    wraps every wait in ``asyncio.wait_for`` (a task each) — a tenth of a request's CPU
    under load here. A connection handed back closed, broken or inside a transaction is
    dropped; a waiter is then woken to open a replacement itself.
    """

    def __init__(self, kwargs: dict[str, Any], max_size: int, wait_timeout: float = 30.0) -> None:
        self.kwargs = kwargs
        self.max_size = max_size
        self.wait_timeout = wait_timeout
        self.closed = True
        self._idle: deque[psycopg.AsyncConnection[Any]] = deque()
        self._waiters: deque[asyncio.Future[psycopg.AsyncConnection[Any] | None]] = deque()
        self._open = 0  # connections out, idle or being opened

    async def open(self) -> None:
        self.closed = False

    async def getconn(self) -> psycopg.AsyncConnection[Any]:
        if self.closed:
            raise psycopg.OperationalError("the gateway's connection pool is closed")
        while True:
            if self._idle:
                return self._idle.popleft()
            if self._open < self.max_size:
                self._open += 1
                try:
                    return await psycopg.AsyncConnection.connect(**self.kwargs)
                except BaseException:
                    self._open -= 1
                    self._wake_one(None)
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(self.wait_timeout):
                    conn = await waiter
            except TimeoutError:
                raise psycopg.OperationalError(
                    f"no database connection free within {self.wait_timeout:g}s"
                ) from None
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    await self.putconn(waiter.result())  # handed over as we were cancelled
                raise
            if conn is not None:
                return conn
            # None: a connection was dropped, so there is room to open one: loop.

    def _wake_one(self, conn: psycopg.AsyncConnection[Any] | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    async def putconn(self, conn: psycopg.AsyncConnection[Any]) -> None:
        usable = (
            not self.closed
            and not conn.closed
            and not conn.broken
            and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        )
        if usable:
            if not self._wake_one(conn):
                self._idle.append(conn)
            return
        self._open -= 1
        self._wake_one(None)
        if not conn.closed:
            await conn.close()

    async def close(self) -> None:
        self.closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(psycopg.OperationalError("the gateway's connection pool closed"))
        while self._idle:
            conn = self._idle.popleft()
            self._open -= 1
            await conn.close()


def _new_pool() -> AsyncConnectionPool:
    return AsyncConnectionPool(
        connection_kwargs(settings.DATABASES["default"]), settings.GATEWAY_DB_POOL_SIZE
    )


async def _close_with_loop(
    loop: asyncio.AbstractEventLoop, pool: AsyncConnectionPool
) -> AsyncGenerator[None, None]:
    # Suspended until the loop's shutdown_asyncgens() (or close()) resumes it into ``finally``.
    try:
        yield
    finally:
        if _pools.get(loop) is pool:
            del _pools[loop]
        _closers.pop(loop, None)
        await pool.close()


async def pool() -> AsyncConnectionPool:
    """This event loop's pool, opened on first use."""
    loop = asyncio.get_running_loop()
    current = _pools.get(loop)
    if current is None:
        current = _pools[loop] = _new_pool()
        closer = _closers[loop] = _close_with_loop(loop, current)
        await anext(closer)
    if current.closed:  # new, or still opening in another task: open() may be called again
        await current.open()
    return current


async def close() -> None:
    """Close this event loop's pool now (its next use opens a new one)."""
    closer = _closers.get(asyncio.get_running_loop())
    if closer is not None:
        await closer.aclose()


class _ConnectionLost(Exception):
    """The connection died under the statement: whether it committed is unknown."""


async def _execute(conn: psycopg.AsyncConnection[Any], query: str, params: Params) -> Any:
    cursor = await conn.execute(query, params)
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def _connection(pool: AsyncConnectionPool) -> psycopg.AsyncConnection[Any]:
    """A pooled connection the server has not closed; dead ones are dropped on the way (after
    a server restart every idle one is), with no pause between them."""
    for _ in range(pool.max_size + 1):  # then a new one: the pool opens one for each dropped
        conn = await pool.getconn()
        if not _closed_by_server(conn):
            return conn
        await conn.close()
        await pool.putconn(conn)  # the pool replaces it
    raise psycopg.OperationalError("no live database connection in the pool")


async def _fetch(query: str, params: Params) -> Any:
    current = await pool()
    conn = await _connection(current)
    try:
        return await _execute(conn, query, params)
    except psycopg.OperationalError as error:
        if conn.closed or conn.broken:
            raise _ConnectionLost from error
        raise
    finally:
        await current.putconn(conn)


def _as_django(error: psycopg.Error) -> NoReturn:
    """Raise ``error`` as the Django exception a Django cursor would have raised."""
    for name in (
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
        "DatabaseError",
        "InterfaceError",
        "Error",
    ):
        if isinstance(error, getattr(psycopg, name)):
            raise getattr(db_utils, name)(*error.args) from error
    raise error


async def fetch_value(query: str, params: Params, *, retry: tuple[str, Params] | None = None) -> Any:
    """The first column of ``query``'s first row (None without rows), in its own transaction.

    ``retry``: a statement to run once on a fresh connection if the connection dies under
    ``query``; it must be right whether or not ``query`` committed. Without it, or if that
    connection dies too, the error is raised.
    """
    try:
        try:
            return await _fetch(query, params)
        except _ConnectionLost as lost:
            if retry is None:
                raise lost.__cause__ from None  # type: ignore[misc]
            logger.warning("connection lost under a statement, running its retry: %s", lost.__cause__)
        try:
            return await _fetch(*retry)
        except _ConnectionLost as lost:
            raise lost.__cause__ from None  # type: ignore[misc]
    except psycopg.Error as error:
        _as_django(error)
