"""Where the API's database work runs: a small pool of threads with persistent connections.

Django's ASGI handler gives every request its own thread for ``sync_to_async`` work,
and with it a new database connection: a connect per request, and as many open
connections as requests in flight (a thousand slow streams would exhaust
PostgreSQL). The hot path instead runs its two database calls (hold, settlement)
on ``GATEWAY_DB_THREADS`` threads, each keeping one connection for
``DB_CONN_MAX_AGE`` seconds, so connections are bounded per process and reused.

In-process tests set ``GATEWAY_DB_IN_REQUEST_THREAD`` so the work stays on the
test's own connection and transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    max_workers=settings.GATEWAY_DB_THREADS, thread_name_prefix="gateway-db"
                )
    return _executor


def _fresh_connections() -> None:
    """Drop this thread's connection if it failed or outlived DB_CONN_MAX_AGE.

    Request threads get this from Django's request signals; pool threads see none.
    Unlike ``close_old_connections`` it adds no health-check round trip.
    """
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.errors_occurred or (conn.close_at is not None and time.monotonic() >= conn.close_at):
            conn.close()


def _run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    _fresh_connections()
    try:
        return func(*args, **kwargs)
    finally:
        if settings.DATABASES["default"].get("CONN_MAX_AGE") == 0:
            connections.close_all()


def run(func: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]:
    """Run the sync ``func`` on the database threads (one hop, whatever it queries)."""
    if getattr(settings, "GATEWAY_DB_IN_REQUEST_THREAD", False):
        return sync_to_async(func)(*args, **kwargs)
    return sync_to_async(partial(_run, func), thread_sensitive=False, executor=_pool())(*args, **kwargs)


def shutdown() -> None:
    """Close every pool thread's connection and stop the pool (tests, process exit)."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is None:
        return
    workers = executor._max_workers
    barrier = threading.Barrier(workers)

    def close() -> None:
        try:
            barrier.wait(timeout=5)  # one task per thread, so every thread closes its own
        except threading.BrokenBarrierError:
            pass
        connections.close_all()

    for future in [executor.submit(close) for _ in range(workers)]:
        future.result()
    executor.shutdown(wait=True)
