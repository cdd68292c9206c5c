"""The gateway's database bookkeeping alone, in one thread, without HTTP: what placing a hold
and settling a request cost in statements, round trips, CPU and wall time.

Also the API's own way from an event loop, in the same run: through ``db_call`` (a thread hop
per call) and on the async pool (``GATEWAY_DB_ASYNC``, no hop).

CPU here is this process's own (``time.process_time``), so it stays meaningful on a
busy machine; wall time includes the database's work, commits and scheduling.

    python -m bench.micro [--requests 300]

Uses the benchmark database (BENCH_DATABASE_URL, default pg_bench_run), which
``python -m bench`` or ``python -m bench.serve`` prepared; it writes holds, ledger
entries and Generation rows there.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from typing import Any


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.settings")
    os.environ.setdefault(
        "DATABASE_URL",
        os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pg_bench_run"),
    )
    os.environ.setdefault("REDIS_URL", os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"))
    os.environ.setdefault("SECRET_KEY", "bench-micro-not-a-secret-0123456789abcdefghijklmnop")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


class StatementCounter:
    """A database execute wrapper that counts statements by their first word."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.kinds[sql.lstrip().split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)


def bench_key() -> Any:
    """The benchmark key's KeyInfo, loaded by its hash (the secret is not stored)."""
    from accounts import keyauth
    from accounts.models import ApiKey

    row = ApiKey.objects.filter(name="bench").order_by("-pk").first()
    if row is None:
        raise SystemExit("no benchmark key: run python -m bench or python -m bench.serve first")
    key = keyauth._load(row.secret_hash)
    if isinstance(key, str):
        raise SystemExit(key)
    return key


def _reserve_kwargs(key: Any, endpoint: Any, generation_id: str) -> dict[str, Any]:
    return {
        "user_id": key.user_id,
        "account_id": key.account_id,
        "api_key_id": key.id,
        "endpoint": endpoint,
        "prompt_tokens": 120,
        "requested_max_tokens": 64,
        "n": 1,
        "generation_id": generation_id,
    }


def _outcome(key: Any, model: Any, generation_id: str, hold_id: int) -> Any:
    from django.utils import timezone

    from gateway.pipeline.settlement import Outcome
    from gateway.providers.base import Usage

    return Outcome(
        generation_id=generation_id,
        user_id=key.user_id,
        api_key_id=key.id,
        endpoint=model.endpoints[0],
        model_id=model.id,
        hold_id=hold_id,
        streamed=False,
        created_at=timezone.now(),
        usage=Usage(prompt_tokens=24, completion_tokens=20),
        finish_reason="stop",
        latency_ms=5,
    )


def one_request(key: Any, snapshot: Any) -> None:
    from gateway.pipeline import holds
    from gateway.pipeline.flight import new_generation_id
    from gateway.pipeline.settlement import settle

    model = snapshot.models["openai/gpt-4o-mini"]
    generation_id = new_generation_id()
    reservation = holds.reserve(**_reserve_kwargs(key, model.endpoints[0], generation_id))
    settle(_outcome(key, model, generation_id, reservation.hold_id))


async def one_request_async(key: Any, snapshot: Any) -> None:
    """As the API does it: ``reserve_async``, then ``settle_shielded``."""
    from gateway.pipeline import holds
    from gateway.pipeline.flight import new_generation_id
    from gateway.pipeline.settlement import settle_shielded

    model = snapshot.models["openai/gpt-4o-mini"]
    generation_id = new_generation_id()
    reservation = await holds.reserve_async(**_reserve_kwargs(key, model.endpoints[0], generation_id))
    await settle_shielded(_outcome(key, model, generation_id, reservation.hold_id))


def measure_event_loop(requests: int, *, pool: bool) -> dict[str, float]:
    """The API's calls from a uvloop event loop, one request after another: through
    ``db_call`` (a hop to an executor thread and back per call) or, with ``pool``, awaited on
    the async pool (``GATEWAY_DB_ASYNC``). CPU counts every thread of the process."""
    import asyncio

    import uvloop
    from django.conf import settings

    from catalog.snapshot import get_snapshot

    key = bench_key()
    snapshot = get_snapshot()

    async def loop() -> tuple[float, float]:
        for _ in range(10):
            await one_request_async(key, snapshot)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(requests):
            await one_request_async(key, snapshot)
        return time.process_time() - cpu0, time.perf_counter() - wall0

    previous = settings.GATEWAY_DB_ASYNC
    settings.GATEWAY_DB_ASYNC = pool
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            cpu, wall = runner.run(loop())
    finally:
        settings.GATEWAY_DB_ASYNC = previous
    return {"cpu_ms": cpu * 1000 / requests, "wall_ms": wall * 1000 / requests}


def measure(requests: int, *, synchronous_commit: bool) -> dict[str, float]:
    from django.db import connection

    from catalog.snapshot import get_snapshot

    key = bench_key()
    snapshot = get_snapshot()
    with connection.cursor() as cursor:
        cursor.execute(f"SET synchronous_commit = {'on' if synchronous_commit else 'off'}")
    for _ in range(10):
        one_request(key, snapshot)
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(requests):
            one_request(key, snapshot)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    with connection.cursor() as cursor:
        cursor.execute("RESET synchronous_commit")
    statements = sum(counter.kinds.values()) / requests
    # psycopg sends BEGIN itself (not through Django's wrapper) and Django commits directly.
    transactions = counter.kinds.get("INSERT", 0) and 2.0
    return {
        "cpu_ms": cpu * 1000 / requests,
        "wall_ms": wall * 1000 / requests,
        "statements": statements,
        "round_trips": statements + 2 * transactions,
        "kinds": {k: v / requests for k, v in sorted(counter.kinds.items())},
    }


# A prototype of the same bookkeeping as two PL/pgSQL calls, one round trip each: what the
# ORM path could shrink to. Created in the benchmark database only; not the product's code.
# (Simplified: key spend limits without periods, no expired-hold sweep, no lock-order care.)
PROTOTYPE_SQL = r"""
CREATE OR REPLACE FUNCTION bench_hold_place(
  p_account bigint, p_key bigint, p_amount bigint, p_ttl int, p_gen text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v_id bigint;
BEGIN
  UPDATE billing_creditaccount SET held_nanos = held_nanos + p_amount
   WHERE id = p_account AND balance_nanos >= held_nanos + p_amount;
  IF NOT FOUND THEN RAISE EXCEPTION 'insufficient credits'; END IF;
  IF p_key IS NOT NULL THEN
    UPDATE accounts_apikey SET held_nanos = held_nanos + p_amount
     WHERE id = p_key AND (limit_nanos IS NULL OR limit_nanos >= usage_nanos + held_nanos + p_amount);
    IF NOT FOUND THEN RAISE EXCEPTION 'key limit reached'; END IF;
  END IF;
  INSERT INTO billing_hold
    (account_id, api_key_id, amount_nanos, status, generation_id, created_at, expires_at)
  VALUES (p_account, p_key, p_amount, 'open', p_gen, now(), now() + make_interval(secs => p_ttl))
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION bench_settle(
  p_hold bigint, p_cost bigint, p_gen text, p_memo text, p_user int, p_model bigint, p_endpoint bigint,
  p_slug text, p_provider text, p_provider_name text, p_upstream text, p_prompt int, p_completion int,
  p_latency int, p_finish text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE h billing_hold%ROWTYPE; v_released bigint; v_charged bigint := 0;
BEGIN
  SELECT * INTO h FROM billing_hold WHERE id = p_hold FOR UPDATE;
  INSERT INTO gateway_generation (id, user_id, api_key_id, model_id, endpoint_id, model_slug, provider_slug,
    provider_name, upstream_model, streamed, status, http_status, finish_reason, native_finish_reason,
    prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_nanos,
    ttft_ms, latency_ms, upstream_id, error, attempts, api, app_referer, app_title, end_user, created_at)
  VALUES (p_gen, p_user, h.api_key_id, p_model, p_endpoint, p_slug, p_provider, p_provider_name, p_upstream,
    false, 'success', 200, p_finish, p_finish, p_prompt, p_completion, 0, 0, 0, p_cost, NULL, p_latency,
    '', '', '[]'::jsonb, 'chat', '', '', '', now());
  IF h.status = 'settled' THEN RETURN 0; END IF;
  v_released := CASE WHEN h.status = 'open' THEN h.amount_nanos ELSE 0 END;
  UPDATE billing_hold SET status = 'settled', closed_at = now(), generation_id = p_gen WHERE id = p_hold;
  IF p_cost > 0 THEN
    -- The ledger's own trigger moves the balance.
    INSERT INTO billing_ledgerentry
      (account_id, kind, amount_nanos, generation_id, idempotency_key, memo, created_at)
    VALUES (h.account_id, 'usage', -p_cost, p_gen, 'usage:' || p_gen, p_memo, now())
    ON CONFLICT DO NOTHING;
    IF FOUND THEN v_charged := p_cost; END IF;
  END IF;
  UPDATE billing_creditaccount SET held_nanos = held_nanos - v_released WHERE id = h.account_id;
  IF h.api_key_id IS NOT NULL THEN
    UPDATE accounts_apikey SET held_nanos = held_nanos - v_released, usage_nanos = usage_nanos + v_charged,
      period_usage_nanos = period_usage_nanos + v_charged WHERE id = h.api_key_id;
  END IF;
  RETURN v_charged;
END $$;
"""


def one_request_prototype(cursor: Any, key: Any, snapshot: Any) -> None:
    from gateway.pipeline.flight import new_generation_id

    model = snapshot.models["openai/gpt-4o-mini"]
    target = model.endpoints[0].target
    generation_id = new_generation_id()
    cursor.execute(
        "SELECT bench_hold_place(%s, %s, %s, %s, %s)", (key.account_id, key.id, 43200, 900, generation_id)
    )
    hold_id = cursor.fetchone()[0]
    cursor.execute(
        "SELECT bench_settle(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (hold_id, 15600, generation_id, "bench", key.user_id, model.id, target.endpoint_id, target.model_slug,
         target.provider_slug, target.provider_name, target.upstream_model, 24, 20, 5, "stop"),
    )  # fmt: skip
    cursor.fetchone()


def measure_prototype(requests: int) -> dict[str, float]:
    from django.db import connection

    from catalog.snapshot import get_snapshot

    key = bench_key()
    snapshot = get_snapshot()
    with connection.cursor() as cursor:
        cursor.execute(PROTOTYPE_SQL)
        for _ in range(10):
            one_request_prototype(cursor, key, snapshot)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(requests):
            one_request_prototype(cursor, key, snapshot)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_ms": cpu * 1000 / requests, "wall_ms": wall * 1000 / requests}


def extra_keys(count: int) -> list[Any]:
    """``count`` more users, each with credits and a key (made once, reused by later runs)."""
    from django.contrib.auth import get_user_model

    from accounts import keyauth
    from accounts.services import api_key_create
    from billing.services import account_for_user, credits_grant
    from promptgrid.money import usd_to_nanos

    keys = []
    for i in range(count):
        user, created = get_user_model().objects.get_or_create(
            username=f"bench-micro-{i}", defaults={"email": f"bench-micro-{i}@promptgrid.invalid"}
        )
        if created:
            credits_grant(
                account=account_for_user(user=user),
                amount_nanos=usd_to_nanos(1_000_000),
                idempotency_key=f"bench-micro:{i}",
            )
            api_key_create(user=user, name="bench-micro")
        row = user.api_keys.filter(name="bench-micro").first()
        keys.append(keyauth._load(row.secret_hash))
    return keys


def measure_concurrent(requests: int, threads: int, *, distinct_accounts: bool) -> dict[str, float]:
    """``threads`` threads doing requests at once, on one account or one account each: the
    rate shows whether the account's row lock serialises them."""
    import threading

    from django.db import connection

    from catalog.snapshot import get_snapshot

    snapshot = get_snapshot()
    keys = extra_keys(threads) if distinct_accounts else [bench_key()] * threads
    per_thread = max(requests // threads, 1)
    # Each thread needs a connection of its own from Django's pool (DB_POOL_SIZE): give
    # this thread's back first, and fail, not hang, if a thread cannot start.
    connection.close()
    start = threading.Barrier(threads + 1, timeout=60)

    def work(key: Any) -> None:
        try:
            one_request(key, snapshot)  # connect and warm up before the clock starts
        except BaseException:
            start.abort()
            raise
        start.wait()
        for _ in range(per_thread):
            one_request(key, snapshot)
        connection.close()

    workers = [threading.Thread(target=work, args=(key,)) for key in keys]
    for worker in workers:
        worker.start()
    start.wait()
    wall0 = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - wall0
    return {"rps": per_thread * threads / wall, "threads": threads}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print one JSON object (for bench.run)")
    args = parser.parse_args(argv)
    setup_django()
    if args.json:
        print(
            json.dumps(
                {
                    "orm_sync": measure(args.requests, synchronous_commit=True),
                    "orm_async": measure(args.requests, synchronous_commit=False),
                    "loop_threads": measure_event_loop(args.requests, pool=False),
                    "loop_pool": measure_event_loop(args.requests, pool=True),
                    "prototype": measure_prototype(args.requests),
                    "one_account": measure_concurrent(args.requests, 8, distinct_accounts=False),
                    "eight_accounts": measure_concurrent(args.requests, 8, distinct_accounts=True),
                }
            )
        )
        return
    for sync in (True, False):
        res = measure(args.requests, synchronous_commit=sync)
        kinds = ", ".join(f"{k} {v:.0f}" for k, v in res["kinds"].items())
        print(
            f"ORM path, synchronous_commit={'on ' if sync else 'off'}: {res['cpu_ms']:.2f} ms CPU, "
            f"{res['wall_ms']:.2f} ms wall, {res['statements']:.0f} statements + BEGIN/COMMIT "
            f"≈ {res['round_trips']:.0f} round trips per request "
            f"({kinds})"
        )
    threads = measure_event_loop(args.requests, pool=False)
    pooled = measure_event_loop(args.requests, pool=True)
    for label, res in (("thread hops (db_call)", threads), ("async pool (GATEWAY_DB_ASYNC)", pooled)):
        print(
            f"API path from an event loop, {label}: {res['cpu_ms']:.2f} ms CPU, "
            f"{res['wall_ms']:.2f} ms wall per request"
        )
    for distinct in (False, True):
        res = measure_concurrent(args.requests, 8, distinct_accounts=distinct)
        where = "8 accounts" if distinct else "one account"
        print(f"ORM path, 8 threads on {where}: {res['rps']:.0f} requests/s")
    res = measure_prototype(args.requests)
    print(
        f"prototype (two PL/pgSQL calls, synchronous_commit=on): {res['cpu_ms']:.2f} ms CPU, "
        f"{res['wall_ms']:.2f} ms wall, 2 round trips per request"
    )


if __name__ == "__main__":
    main()
