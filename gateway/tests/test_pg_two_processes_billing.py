"""Two gateway processes spending one balance, in each billing mode, through real HTTP.

Two uvicorn processes serve the real ASGI app on PostgreSQL with the async pool. Five times
as many requests as the balance pays for arrive at once, alternating between them; each
answer costs exactly its hold (``mock/lorem`` fills ``max_tokens``; input is free), so the
balance is spent to the nano. Whatever the mode: no overdraft, every answered request's
charge is in the ledger once, holds all released, ``audit_ledger`` clean. In batched mode the
settlements really were group-committed (``pg_stat_user_functions``: fewer batch calls than
answers). Clients that leave mid-stream are billed exactly what they were sent.

The race these guard against without the conditional hold (a read-check-write reservation
overdraws under two processes) is shown in ``billing/tests/test_concurrency.py``; a batch
without its conflict clause losing its other rows, in ``test_pg_batched_settlement.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.db import connection

from billing import services
from billing.audit import ledger_audit
from billing.models import Generation, Hold, LedgerEntry
from gateway.pipeline.tokens import tokens_for_chars
from gateway.tests.routing.test_two_processes import _free_port, _wait_until_listening

ROOT = Path(__file__).resolve().parents[2]
PRICE = 1000  # nanos an output token ($1/M); input is free
MAX_TOKENS = 20
HOLD = MAX_TOKENS * PRICE
AFFORDABLE = 8

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="two processes share PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


@contextmanager
def _gateways(mode: str, **extra_env: str) -> Iterator[list[str]]:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="promptgrid.test_settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CATALOG_CACHE_SECONDS="1",
        GATEWAY_DB_SHARED_THREADS="true",
        GATEWAY_DB_ASYNC="true",
        BILLING_MODE=mode,
        LOG_LEVEL="WARNING",
        **extra_env,
    )
    processes, urls = [], []
    try:
        for _ in range(2):
            port = _free_port()
            command = [sys.executable, "-m", "uvicorn", "promptgrid.asgi:application", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--lifespan", "off", "--log-level", "warning"]
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            processes.append(process)
            _wait_until_listening(port, process)
            urls.append(f"http://127.0.0.1:{port}")
        _processes[tuple(urls)] = processes
        yield urls
    finally:
        _processes.pop(tuple(urls), None)
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            process.stderr.close()


def _function_calls() -> dict[str, int]:
    """Calls of the settlement functions since the database's statistics were reset (the
    gateways' backends report theirs when they exit)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT funcname, calls FROM pg_stat_user_functions"
            " WHERE funcname IN ('billing_hold_settle', 'billing_hold_settle_batch')"
        )
        return dict(cursor.fetchall())


_processes: dict[tuple[str, ...], list[subprocess.Popen]] = {}


@pytest.fixture
def counted_functions() -> Iterator[Callable[[], dict[str, int]]]:
    """Function call statistics on for new sessions of the test database (the gateways')."""
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER DATABASE \"{name}\" SET track_functions = 'pl'")
        cursor.execute("SELECT pg_stat_reset()")
    try:
        yield _function_calls
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" RESET track_functions')


def _post_all(urls: list[str], secret: str, bodies: list[dict], concurrency: int) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=60) as client:

            async def one(i: int, body: dict) -> httpx.Response:
                async with gate:
                    return await client.post(
                        f"{urls[i % 2]}/api/v1/chat/completions",
                        json=body,
                        headers={"Authorization": f"Bearer {secret}"},
                    )

            return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))

    return asyncio.run(run())


def _lorem(**fields: object) -> dict:
    return {"model": "mock/lorem", "messages": [{"role": "user", "content": "go"}], **fields}


def _usage_entries(customer) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account=customer.account, kind=LedgerEntry.Kind.USAGE))


@pytest.mark.parametrize("mode", ["strict", "batched"])
def test_five_times_oversubscribed_from_two_processes_spends_the_balance_exactly(
    make_customer, make_mock_model, counted_functions, mode
):
    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="0", output_price="1")
    customer = make_customer(credits_nanos=AFFORDABLE * HOLD)
    bodies = [_lorem(max_tokens=MAX_TOKENS, mock_delay_ms=20)] * (5 * AFFORDABLE)

    with _gateways(mode) as urls:
        responses = _post_all(urls, customer.secret, bodies, concurrency=2 * AFFORDABLE)
    calls = counted_functions()

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 402}, [r.text for r in responses if r.status_code not in (200, 402)]
    answered = [r.json()["id"] for r in responses if r.status_code == 200]
    tokens = [r.json()["usage"]["completion_tokens"] for r in responses if r.status_code == 200]
    assert tokens == [MAX_TOKENS] * len(answered)
    # Each answer cost its whole hold: exactly the affordable number were answered, and paid.
    assert len(answered) == AFFORDABLE
    assert customer.balance() == 0 and customer.held() == 0
    entries = _usage_entries(customer)
    assert sorted(e.generation_id for e in entries) == sorted(answered)  # each once
    assert all(e.amount_nanos == -HOLD for e in entries)
    assert not Hold.objects.filter(account=customer.account, status=Hold.Status.OPEN).exists()
    assert ledger_audit() == []
    if mode == "batched":
        assert calls.get("billing_hold_settle_batch", 0) >= 1
    else:
        assert calls.get("billing_hold_settle_batch", 0) == 0
        assert calls["billing_hold_settle"] == len(answered)


async def _leave_after(
    client: httpx.AsyncClient, url: str, secret: str, events: int | None
) -> tuple[str, str]:
    """Stream one answer, hanging up after ``events`` content events (None: read it all);
    (its generation id, the text received)."""
    text, generation_id = [], ""
    body = _lorem(max_tokens=400, stream=True, mock_delay_ms=15)
    headers = {"Authorization": f"Bearer {secret}"}
    request = client.stream("POST", f"{url}/api/v1/chat/completions", json=body, headers=headers)
    async with request as response:
        assert response.status_code == 200
        seen = 0
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line.removeprefix("data: "))
            generation_id = chunk["id"]
            for choice in chunk.get("choices", []):
                piece = choice.get("delta", {}).get("content")
                if piece:
                    text.append(piece)
                    seen += 1
            if events is not None and seen >= events:
                break  # closing the stream here hangs up mid-answer
    return generation_id, "".join(text)


def test_clients_that_leave_mid_stream_are_billed_exactly_what_they_were_sent(make_customer, make_mock_model):
    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="0", output_price="1")
    customer = make_customer()
    start = customer.balance()

    async def streams(urls: list[str]) -> list[tuple[str, str]]:
        async with httpx.AsyncClient(timeout=60) as client:
            leaving = [_leave_after(client, urls[i % 2], customer.secret, 3 + i % 4) for i in range(12)]
            staying = [_leave_after(client, urls[i % 2], customer.secret, None) for i in range(4)]
            return await asyncio.gather(*leaving, *staying)

    with _gateways("batched") as urls:
        received = asyncio.run(streams(urls))
        # Settlement runs after the hang-up; give the gateways a moment to commit it.
        for _ in range(100):
            if Generation.objects.filter(user=customer.user).count() == 16:
                break
            time.sleep(0.1)

    generations = {g.id: g for g in Generation.objects.filter(user=customer.user)}
    assert sorted(generations) == sorted(generation_id for generation_id, _ in received)
    for generation_id, text in received[:12]:
        left = generations[generation_id]
        # Billed for what the gateway had sent when the client left (at least what it read,
        # and what was still in flight on the socket), never the whole answer.
        assert left.status == "cancelled"
        assert tokens_for_chars(len(text)) <= left.completion_tokens < 400
    for generation_id, _ in received[12:]:
        assert (generations[generation_id].status, generations[generation_id].completion_tokens) == (
            "success",
            400,
        )
    generations = list(generations.values())
    assert all(g.cost_nanos == g.completion_tokens * PRICE for g in generations)
    entries = _usage_entries(customer)
    assert sorted(e.generation_id for e in entries) == sorted(g.id for g in generations)
    assert start - customer.balance() == sum(g.cost_nanos for g in generations)
    assert customer.held() == 0
    assert ledger_audit() == []


def test_organisation_members_spend_their_budgets_exactly_through_batched_gateways(
    make_mock_model, counted_functions
):
    from gateway.tests.orgs.world import make_org

    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="0", output_price="1")
    world = make_org(credits_nanos=100 * HOLD)
    start = world.balance()
    budget = 3
    members = [world.add(name, limit_nanos=budget * HOLD, allowed_models=["mock/lorem"]) for name in "ab"]
    body = _lorem(max_tokens=MAX_TOKENS, mock_delay_ms=20)

    async def both(urls: list[str]) -> list[list[httpx.Response]]:
        return await asyncio.gather(
            *(
                asyncio.to_thread(_post_all, urls, m.secret, [body] * (5 * budget), 2 * budget)
                for m in members
            )
        )

    with _gateways("batched") as urls:
        answers = asyncio.run(both(urls))

    for member, responses in zip(members, answers, strict=True):
        assert sorted({r.status_code for r in responses}) == [200, 402]
        assert [r.status_code for r in responses].count(200) == budget
        membership = member.membership(world.organisation)
        assert (membership.usage_nanos, membership.held_nanos) == (budget * HOLD, 0)
    assert world.balance() == start - 2 * budget * HOLD
    assert ledger_audit() == []
    assert counted_functions().get("billing_hold_settle_batch", 0) >= 1  # member rows went in batches


def test_a_gateway_killed_mid_load_loses_no_answered_charge_and_its_holds_come_back(
    make_customer, make_mock_model
):
    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="0", output_price="1")
    customer = make_customer(credits_nanos=AFFORDABLE * HOLD)
    bodies = [_lorem(max_tokens=MAX_TOKENS, mock_delay_ms=40)] * (5 * AFFORDABLE)
    ttl = 10  # the shortest hold lifetime allowed

    async def load_and_kill(urls: list[str]) -> list[httpx.Response | BaseException]:
        victim = _processes[tuple(urls)][1]
        gate = asyncio.Semaphore(2 * AFFORDABLE)
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(i: int) -> httpx.Response:
                async with gate:
                    return await client.post(
                        f"{urls[i % 2]}/api/v1/chat/completions",
                        json=bodies[i],
                        headers={"Authorization": f"Bearer {customer.secret}"},
                    )

            requests = [asyncio.ensure_future(one(i)) for i in range(len(bodies))]
            await asyncio.sleep(0.3)  # under way on both processes
            victim.kill()  # SIGKILL: no shutdown, no settlement of what it had in flight
            return await asyncio.gather(*requests, return_exceptions=True)

    with _gateways("batched", HOLD_TTL_SECONDS=str(ttl)) as urls:
        results = asyncio.run(load_and_kill(urls))
        killed_at = time.monotonic()

    answered = [r.json()["id"] for r in results if isinstance(r, httpx.Response) and r.status_code == 200]
    assert answered  # some were answered (by either process before the kill, the survivor after)
    charged = {e.generation_id for e in _usage_entries(customer)}
    assert set(answered) <= charged  # every answered request is charged
    assert 0 <= customer.held() <= customer.balance()  # what is still held is covered: no overdraft
    assert customer.balance() == AFFORDABLE * HOLD - len(charged) * HOLD

    # What the killed process had reserved comes back once its holds expire.
    time.sleep(max(0.0, ttl + 1 - (time.monotonic() - killed_at)))
    services.holds_release_expired()
    assert customer.held() == 0
    assert ledger_audit() == []
