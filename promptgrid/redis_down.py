"""When Redis is unreachable the gateway keeps serving from process memory.

Redis holds only what can be rebuilt or counted again: cache entries, rate-limit counters,
circuit breakers, invalidation notices. Losing it must not fail a request. The cache answers
a miss (``TolerantRedisCache``), rate limits and breakers count in the process
(gateway/routing), and /readyz reports Redis as failing so an orchestrator can see it.
A warning is logged at most every ``_WARN_EVERY`` seconds per process.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("promptgrid.redis")

# What "Redis is down" looks like: refused, reset, timed out (OSError covers the socket's own).
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
_WARN_EVERY = 10.0
_last_warning = 0.0


def warn_redis_down(what: str, exc: BaseException) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= _WARN_EVERY:
        _last_warning = now
        logger.warning("Redis is unreachable (%s): %s; using process memory", what, type(exc).__name__)


def _tolerant(name: str, fallback: Callable[..., Any]) -> Callable[..., Any]:
    method = getattr(RedisCache, name)

    @functools.wraps(method)
    def call(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except REDIS_DOWN as exc:
            warn_redis_down(f"cache {name}", exc)
            return fallback(*args, **kwargs)

    return call


def _default(key: Any, default: Any = None, version: Any = None) -> Any:
    return default


class TolerantRedisCache(RedisCache):
    """Django's Redis cache, where an unreachable Redis is a miss and a write that did not happen."""

    get = _tolerant("get", _default)
    get_many = _tolerant("get_many", lambda *a, **k: {})
    has_key = _tolerant("has_key", lambda *a, **k: False)
    set = _tolerant("set", lambda *a, **k: None)
    set_many = _tolerant("set_many", lambda *a, **k: [])
    add = _tolerant("add", lambda *a, **k: False)
    touch = _tolerant("touch", lambda *a, **k: False)
    delete = _tolerant("delete", lambda *a, **k: False)
    delete_many = _tolerant("delete_many", lambda *a, **k: None)
    clear = _tolerant("clear", lambda *a, **k: False)
