"""A circuit breaker per endpoint: stop sending requests to an endpoint that keeps failing.

Closed: requests go through; each retryable failure (connect, timeout, 429, 5xx,
overloaded) adds one to the endpoint's count of consecutive failures, and a success
clears it. Open: after ``CIRCUIT_FAILURE_THRESHOLD`` consecutive failures the endpoint
is skipped for ``CIRCUIT_COOLDOWN_SECONDS``; a request whose every candidate is open is
answered 503 at once (``reopens_in`` gives its Retry-After). Half-open: after the cool-down, one request
(one per cool-down, across all processes) is let through as a probe; its success closes
the circuit, its failure opens it again at once.

With REDIS_URL the state lives in Redis and every read-and-change is one Lua script,
so all processes share one breaker per endpoint and two processes cannot both take
the half-open probe. Without Redis it lives in this process's memory.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from promptgrid.redis_down import REDIS_DOWN, warn_redis_down

# What a check says about an endpoint.
CLOSED = 0  # healthy
OPEN = 1  # skip it
PROBE = 2  # half-open: this request is the probe
FAILING = 3  # closed, but with recent failures (a success must clear them)

# Failures older than this many cool-downs are forgotten (the count is of consecutive failures;
# an endpoint idle for that long has not failed "in a row").
_MEMORY_COOLDOWNS = 10

# KEYS: per endpoint (fails, open, probe). ARGV: threshold, cool-down in ms. Returns one state each.
_CHECK_LUA = """
local threshold = tonumber(ARGV[1])
local cooldown = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS, 3 do
  local state = 0
  if redis.call('EXISTS', KEYS[i + 1]) == 1 then
    state = 1
  else
    local fails = tonumber(redis.call('GET', KEYS[i]) or '0')
    if fails >= threshold then
      if redis.call('SET', KEYS[i + 2], '1', 'NX', 'PX', cooldown) then state = 2 else state = 1 end
    elseif fails > 0 then
      state = 3
    end
  end
  out[#out + 1] = state
end
return out
"""

# KEYS: fails, open, probe. ARGV: threshold, cool-down ms, memory ms. Returns the failure count.
_FAIL_LUA = """
local fails = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
if fails >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[2]))
  redis.call('DEL', KEYS[3])
end
return fails
"""


def _keys(endpoint_id: int) -> list[str]:
    return [f"cb:{endpoint_id}:fails", f"cb:{endpoint_id}:open", f"cb:{endpoint_id}:probe"]


def _threshold() -> int:
    return int(settings.CIRCUIT_FAILURE_THRESHOLD)


def _cooldown() -> float:
    return float(settings.CIRCUIT_COOLDOWN_SECONDS)


@dataclass
class _State:
    fails: int = 0
    open_until: float = 0.0
    probe_until: float = 0.0
    last_failure: float = 0.0


class _Memory:
    def __init__(self) -> None:
        self.states: dict[int, _State] = {}

    def check(self, endpoint_id: int, now: float) -> int:
        state = self.states.get(endpoint_id)
        if state is None:
            return CLOSED
        if now - state.last_failure > _cooldown() * _MEMORY_COOLDOWNS:
            del self.states[endpoint_id]
            return CLOSED
        if now < state.open_until:
            return OPEN
        if state.fails >= _threshold():
            if now < state.probe_until:
                return OPEN
            state.probe_until = now + _cooldown()
            return PROBE
        return FAILING if state.fails else CLOSED

    def fail(self, endpoint_id: int, now: float) -> int:
        state = self.states.setdefault(endpoint_id, _State())
        state.fails += 1
        state.last_failure = now
        if state.fails >= _threshold():
            state.open_until = now + _cooldown()
            state.probe_until = 0.0
        return state.fails

    def succeed(self, endpoint_id: int) -> None:
        self.states.pop(endpoint_id, None)


_memory = _Memory()
# Endpoints this process saw fail since their last success: a success on one of them must clear
# the shared count even when the request skipped the check (a single candidate is never checked).
_suspects: set[int] = set()
_redis_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def _redis() -> Any:
    """One asyncio Redis client per event loop (its connections belong to that loop)."""
    loop = asyncio.get_running_loop()
    client = _redis_by_loop.get(loop)
    if client is None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client._pg_check = client.register_script(_CHECK_LUA)
        client._pg_fail = client.register_script(_FAIL_LUA)
        _redis_by_loop[loop] = client
    return client


async def reopens_in(endpoint_ids: list[int]) -> float:
    """Seconds until the first of these endpoints takes a half-open probe again."""
    if settings.REDIS_URL:
        try:
            client = _redis()
            waits = []
            for endpoint_id in endpoint_ids:
                _fails, open_key, probe_key = _keys(endpoint_id)
                ttls = [await client.pttl(open_key), await client.pttl(probe_key)]
                waits.append(max(0, *ttls) / 1000)
            return min(waits, default=0.0)
        except REDIS_DOWN as exc:
            warn_redis_down("circuit breakers", exc)
    now = time.monotonic()
    waits = []
    for endpoint_id in endpoint_ids:
        state = _memory.states.get(endpoint_id)
        if state is not None:
            waits.append(max(0.0, state.open_until - now, state.probe_until - now))
    return min(waits, default=0.0)


def reset() -> None:
    """Forget this process's breakers (tests)."""
    _memory.states.clear()
    _suspects.clear()


async def states(endpoint_ids: list[int]) -> dict[int, int]:
    """The state of each endpoint; taking PROBE means this request is the half-open probe."""
    if not endpoint_ids:
        return {}
    if settings.REDIS_URL:
        keys = [key for endpoint_id in endpoint_ids for key in _keys(endpoint_id)]
        try:
            result = await _redis()._pg_check(keys=keys, args=[_threshold(), int(_cooldown() * 1000)])
            return {endpoint_id: int(state) for endpoint_id, state in zip(endpoint_ids, result, strict=True)}
        except REDIS_DOWN as exc:
            warn_redis_down("circuit breakers", exc)  # each process keeps its own until Redis is back
    now = time.monotonic()
    return {endpoint_id: _memory.check(endpoint_id, now) for endpoint_id in endpoint_ids}


async def record_failure(endpoint_id: int) -> int:
    """Count a failure; returns the consecutive failures (the circuit opens at the threshold)."""
    _suspects.add(endpoint_id)
    if settings.REDIS_URL:
        memory_ms = int(_cooldown() * 1000 * _MEMORY_COOLDOWNS)
        args = [_threshold(), int(_cooldown() * 1000), memory_ms]
        try:
            return int(await _redis()._pg_fail(keys=_keys(endpoint_id), args=args))
        except REDIS_DOWN as exc:
            warn_redis_down("circuit breakers", exc)
    return _memory.fail(endpoint_id, time.monotonic())


async def record_success(endpoint_id: int, state: int = CLOSED) -> None:
    """Close the circuit; costs nothing when neither the check nor this process saw failures."""
    if state == CLOSED and endpoint_id not in _suspects:
        return
    _suspects.discard(endpoint_id)
    if settings.REDIS_URL:
        try:
            await _redis().delete(*_keys(endpoint_id))
            return
        except REDIS_DOWN as exc:
            warn_redis_down("circuit breakers", exc)
    _memory.succeed(endpoint_id)
