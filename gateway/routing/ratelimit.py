"""Per-key requests/minute and tokens/minute, and per-user requests/minute.

Fixed one-minute windows. With REDIS_URL the counters live in Redis and one Lua
script checks and counts every limit of a request atomically, so all processes
share them; without Redis they live in this process's memory (one process is the
whole deployment then). A request with no limits set costs nothing here.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from accounts.keyauth import KeyInfo
from promptgrid.redis_down import REDIS_DOWN, warn_redis_down

WINDOW = 60

# KEYS: counter names; ARGV: window, then per key its limit and its increment.
# Refuses without counting when any counter would pass its limit (a refused request
# spends no quota); returns {allowed, index of the tightest limit, its count, ttl}.
_LUA = """
local window = tonumber(ARGV[1])
local counts = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local incr = tonumber(ARGV[2 * i + 1])
  local count = tonumber(redis.call('GET', key) or '0')
  counts[i] = count
  if count + incr > limit or (incr == 0 and count >= limit) then
    local ttl = redis.call('TTL', key)
    return {0, i, count, ttl}
  end
end
local best, best_left, best_ttl = 1, nil, window
for i, key in ipairs(KEYS) do
  local incr = tonumber(ARGV[2 * i + 1])
  local limit = tonumber(ARGV[2 * i])
  local count = counts[i]
  if incr > 0 then
    count = redis.call('INCRBY', key, incr)
    if count == incr then redis.call('EXPIRE', key, window) end
  end
  local left = limit - count
  if best_left == nil or left < best_left then
    best, best_left = i, left
    best_ttl = redis.call('TTL', key)
  end
end
return {1, best, best_left, best_ttl}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    scope: str = ""

    def headers(self) -> dict[str, str]:
        headers = {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(max(self.remaining, 0)),
            "x-ratelimit-reset": str(max(self.reset_seconds, 1)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(self.reset_seconds, 1))
        return headers


@dataclass(frozen=True)
class _Check:
    name: str
    scope: str
    limit: int
    incr: int  # 1 for a request counter; 0 for a token counter (checked, counted after the answer)


def _checks(key: KeyInfo, window: int) -> list[_Check]:
    checks = []
    if key.rpm_limit:
        checks.append(_Check(f"rl:k:{key.id}:r:{window}", "key requests per minute", key.rpm_limit, 1))
    if key.user_rpm_limit:
        checks.append(
            _Check(f"rl:u:{key.user_id}:r:{window}", "user requests per minute", key.user_rpm_limit, 1)
        )
    if key.tpm_limit:
        checks.append(_Check(f"rl:k:{key.id}:t:{window}", "key tokens per minute", key.tpm_limit, 0))
    return checks


class _Memory:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.window = 0

    def run(self, checks: list[_Check], window: int) -> tuple[bool, _Check, int]:
        if window != self.window:
            self.counts.clear()
            self.window = window
        for check in checks:
            count = self.counts.get(check.name, 0)
            if count + check.incr > check.limit or (check.incr == 0 and count >= check.limit):
                return False, check, check.limit - count
        tightest, left = checks[0], None
        for check in checks:
            count = self.counts.get(check.name, 0) + check.incr
            self.counts[check.name] = count
            if left is None or check.limit - count < left:
                tightest, left = check, check.limit - count
        return True, tightest, left or 0

    def add(self, name: str, amount: int, window: int) -> None:
        if window == self.window:
            self.counts[name] = self.counts.get(name, 0) + amount


_memory = _Memory()
_redis_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def _redis() -> Any:
    """One asyncio Redis client per event loop (its connections belong to that loop)."""
    loop = asyncio.get_running_loop()
    client = _redis_by_loop.get(loop)
    if client is None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client._pg_script = client.register_script(_LUA)
        _redis_by_loop[loop] = client
    return client


def reset_memory() -> None:
    _memory.counts.clear()


async def _check_in_redis(checks: list[_Check], reset: int) -> Decision:
    args: list[int] = [WINDOW]
    for c in checks:
        args.extend((c.limit, c.incr))
    allowed, index, left, ttl = await _redis()._pg_script(keys=[c.name for c in checks], args=args)
    tightest = checks[int(index) - 1]
    if int(ttl) > 0:
        reset = int(ttl)
    if not allowed:
        left = tightest.limit - int(left)
    return Decision(bool(allowed), tightest.limit, int(left), reset, tightest.scope)


async def check(key: KeyInfo) -> Decision | None:
    """Count this request against the key's and user's limits; None when none is set."""
    now = time.time()
    window = int(now // WINDOW)
    checks = _checks(key, window)
    if not checks:
        return None
    reset = WINDOW - int(now % WINDOW)
    if settings.REDIS_URL:
        try:
            return await _check_in_redis(checks, reset)
        except REDIS_DOWN as exc:
            warn_redis_down("rate limits", exc)  # counted per process until Redis is back
    ok, tightest, left = _memory.run(checks, window)
    return Decision(ok, tightest.limit, left, reset, tightest.scope)


async def add_tokens(key: KeyInfo, tokens: int) -> None:
    """Count a finished request's tokens against the key's tokens-per-minute limit."""
    if not key.tpm_limit or tokens <= 0:
        return
    window = int(time.time() // WINDOW)
    name = f"rl:k:{key.id}:t:{window}"
    if settings.REDIS_URL:
        try:
            async with _redis().pipeline(transaction=True) as pipe:
                await pipe.incrby(name, tokens).expire(name, WINDOW).execute()
            return
        except REDIS_DOWN as exc:
            warn_redis_down("token counts", exc)
    _memory.add(name, tokens, window)
