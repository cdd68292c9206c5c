"""Group commit (``BILLING_MODE=batched``): concurrent settlements of one process commit as one
statement and one transaction, with the same money and rows as one settlement at a time; a row
that fails does not take the others with it; a lone request is a batch of one that waits for
nothing. PostgreSQL only (the async pool); committed data (``transaction=True``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.db import IntegrityError, connection

from billing import pg_batch, services
from billing.audit import ledger_audit
from billing.models import Generation, Hold, LedgerEntry, Shortfall
from gateway.pipeline import holds, settlement
from gateway.tests.test_pg_settlement import COST, NOT_LOGGED, _outcome, _reserve_kwargs, run
from promptgrid import pgpool

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the group commit is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def batched(settings):
    settings.GATEWAY_DB_ASYNC = True
    settings.BILLING_MODE = "batched"
    settings.BILLING_BATCH_WAIT_MS = 0
    settings.CATALOG_CACHE_SECONDS = 60


@pytest.fixture
def endpoint(make_mock_model):
    from catalog.snapshot import get_snapshot

    make_mock_model(input_price="1", output_price="2", max_output_tokens=1000)
    return get_snapshot().models["mock/echo"].endpoints[0]


@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """The size of every batch committed."""
    sizes: list[int] = []
    commit = pg_batch.commit

    async def counted(batch: list[Any]) -> None:
        sizes.append(len(batch))
        await commit(batch)

    monkeypatch.setattr(pg_batch, "commit", counted)
    return sizes


async def _reserve(customer: Any, endpoint: Any, count: int) -> list[tuple[str, holds.Reservation]]:
    kwargs = [_reserve_kwargs(customer, endpoint) for _ in range(count)]
    reservations = await asyncio.gather(*(holds.reserve_async(**k) for k in kwargs))
    return [(k["generation_id"], r) for k, r in zip(kwargs, reservations, strict=True)]


def _usage_count(customer: Any) -> int:
    return LedgerEntry.objects.filter(account=customer.account, kind=LedgerEntry.Kind.USAGE).count()


def test_concurrent_settlements_commit_together_and_charge_each_exactly_once(
    make_customer, endpoint, batches
):
    customers = [make_customer(), make_customer()]
    starts = [c.balance() for c in customers]

    async def twenty_each() -> list[settlement.Settled]:
        outcomes = []
        for customer in customers:
            for generation_id, reservation in await _reserve(customer, endpoint, 20):
                outcomes.append(_outcome(customer, endpoint, reservation, generation_id, **NOT_LOGGED))
        return await asyncio.gather(*(settlement.settle_shielded(o) for o in outcomes))

    settled = run(twenty_each())
    assert settled == [settlement.Settled(COST, None)] * 40
    assert sum(batches) == 40 and len(batches) < 40  # the first commits alone, the rest together
    for customer, start in zip(customers, starts, strict=True):
        assert customer.balance() == start - 20 * COST
        assert customer.held() == 0
        assert _usage_count(customer) == 20
        customer.key.refresh_from_db()
        assert (customer.key.held_nanos, customer.key.usage_nanos) == (0, 20 * COST)
    assert Generation.objects.count() == 40
    assert not Hold.objects.exclude(status=Hold.Status.SETTLED).exists()
    assert ledger_audit() == []


def test_a_lone_settlement_is_a_batch_of_one(make_customer, endpoint, batches):
    customer = make_customer()

    async def one_after_another() -> None:
        for generation_id, reservation in await _reserve(customer, endpoint, 3):
            await settlement.settle_shielded(_outcome(customer, endpoint, reservation, generation_id))

    run(one_after_another())
    assert batches == [1, 1, 1]
    assert _usage_count(customer) == 3


def test_a_duplicate_generation_in_a_batch_does_not_lose_the_others(make_customer, endpoint, batches):
    customer = make_customer()
    start = customer.balance()

    async def with_a_duplicate() -> list[Any]:
        reserved = await _reserve(customer, endpoint, 6)
        first_id, first = reserved[0]
        await settlement.settle_shielded(_outcome(customer, endpoint, first, first_id, **NOT_LOGGED))
        # The same generation settled again (a retry after a lost answer), among five others.
        again = _outcome(customer, endpoint, reserved[1][1], first_id, **NOT_LOGGED)
        others = [_outcome(customer, endpoint, r, g, **NOT_LOGGED) for g, r in reserved[2:]]
        return await asyncio.gather(
            *(settlement.settle_async(o) for o in [*others[:2], again, *others[2:]]), return_exceptions=True
        )

    results = run(with_a_duplicate())
    names = [type(r).__name__ for r in results]
    assert names == ["Settled", "Settled", "IntegrityError", "Settled", "Settled"]
    assert batches == [1, 1, 4]  # the first alone, the first of the five alone, then one batch
    assert customer.balance() == start - 5 * COST
    assert _usage_count(customer) == 5
    assert Hold.objects.filter(account=customer.account, status=Hold.Status.OPEN).count() == 1  # expires
    assert ledger_audit() == []


def test_without_the_conflict_clause_one_duplicate_would_refuse_the_whole_batch(make_customer, endpoint):
    """The race the ``ON CONFLICT`` guards against: a plain multi-row INSERT fails as a whole."""
    customer = make_customer()
    tail = pg_batch._insert_head(Generation)[1]

    def row(outcome: settlement.Outcome) -> Any:
        values = settlement._values(outcome, 1)
        params = pg_batch.pg_async.row_params(Generation, values)
        return pg_batch._Row(Generation, values, params, outcome.hold_id, 1, "")

    async def naive() -> None:
        reserved = await _reserve(customer, endpoint, 3)
        first_id, first = reserved[0]
        await settlement.settle_shielded(_outcome(customer, endpoint, first, first_id, **NOT_LOGGED))
        pairs = [(first_id, reserved[1][1]), reserved[2]]
        rows = [row(_outcome(customer, endpoint, r, g, **NOT_LOGGED)) for g, r in pairs]
        statement = pg_batch.batch_statement(Generation, 2).replace(tail, " RETURNING id")
        from promptgrid import pgpool

        with pytest.raises(IntegrityError):
            await pgpool.fetch_value(statement, pg_batch.batch_params(rows))

    run(naive())
    assert _usage_count(customer) == 1  # the other row was lost with the duplicate


def test_a_batch_refused_as_a_whole_is_settled_row_by_row(make_customer, endpoint, batches):
    customer = make_customer()
    start = customer.balance()

    async def with_a_missing_hold() -> list[Any]:
        reserved = await _reserve(customer, endpoint, 4)
        outcomes = [_outcome(customer, endpoint, r, g, **NOT_LOGGED) for g, r in reserved]
        outcomes[2].hold_id = 987654321  # no such hold: billing_hold_settle_batch refuses the batch
        warm = await _reserve(customer, endpoint, 1)  # a first settlement keeps the writer busy
        first = asyncio.ensure_future(
            settlement.settle_async(_outcome(customer, endpoint, warm[0][1], warm[0][0], **NOT_LOGGED))
        )
        await asyncio.sleep(0)
        settling = (settlement.settle_async(o) for o in outcomes)
        results = await asyncio.gather(*settling, return_exceptions=True)
        await first
        return results

    results = run(with_a_missing_hold())
    assert [type(r).__name__ for r in results] == ["Settled", "Settled", "DoesNotExist", "Settled"]
    assert batches == [1, 4]
    assert customer.balance() == start - 4 * COST
    assert _usage_count(customer) == 4
    assert not Shortfall.objects.exists()
    assert ledger_audit() == []


def test_a_charge_above_its_hold_stops_at_the_hold_and_records_the_rest(make_customer, endpoint, batches):
    customer = make_customer()
    start = customer.balance()

    async def over() -> list[settlement.Settled]:
        reserved = await _reserve(customer, endpoint, 3)
        outcomes = [_outcome(customer, endpoint, r, g, **NOT_LOGGED) for g, r in reserved]
        for outcome, (_, reservation) in zip(outcomes, reserved, strict=True):
            outcome.hold_nanos = reservation.amount_nanos
        outcomes[1].usage.completion_tokens = 5000  # far beyond the hold's 50
        return await asyncio.gather(*(settlement.settle_shielded(o) for o in outcomes))

    settled = run(over())
    hold = 100 * 1000 + 50 * 2000
    assert [s.cost_nanos for s in settled] == [COST, hold, COST]
    assert customer.balance() == start - 2 * COST - hold
    shortfall = Shortfall.objects.get()
    assert shortfall.kind == Shortfall.Kind.OVER_HOLD
    assert shortfall.amount_nanos == (20 * 1000 + 5000 * 2000) - hold
    assert ledger_audit() == []


def test_a_released_hold_in_a_batch_is_charged_only_what_the_balance_still_allows(
    make_customer, endpoint, batches
):
    hold = 100 * 1000 + 50 * 2000
    customer = make_customer(credits_nanos=4 * hold)
    start = customer.balance()
    big = 20 * 1000 + 5000 * 2000  # far more than any hold

    async def settle(reserved: list[tuple[str, holds.Reservation]]) -> None:
        await _reserve(customer, endpoint, 2)  # still in flight: their holds stay
        outcomes = [_outcome(customer, endpoint, r, g, **NOT_LOGGED) for g, r in reserved]
        outcomes[2].usage.completion_tokens = 5000
        await asyncio.gather(*(settlement.settle_shielded(o) for o in outcomes))

    reserved = run(_reserve(customer, endpoint, 3))
    services.hold_release(hold_id=reserved[2][1].hold_id)  # its sweep ran
    run(settle(reserved))
    assert batches == [1, 2]  # the first alone, the other two (one of them released) together
    # The open holds charge COST each; the released one what balance minus the holds in flight
    # leaves after them, and the rest is a shortfall, as billing_hold_settle does.
    late_charge = (start - 2 * COST) - 2 * hold
    assert customer.balance() == start - 2 * COST - late_charge
    assert customer.held() == 2 * hold
    assert _usage_count(customer) == 3
    customer.key.refresh_from_db()
    assert (customer.key.held_nanos, customer.key.usage_nanos) == (2 * hold, 2 * COST + late_charge)
    shortfall = Shortfall.objects.get()
    assert (shortfall.kind, shortfall.amount_nanos) == (Shortfall.Kind.OVER_HOLD, big - late_charge)
    assert "(released)" in shortfall.detail
    assert ledger_audit() == []


def _naive_batch_function() -> str:
    """The batch function without its cap (a charge as large as the provider reports)."""
    from billing import db_batch

    body = db_batch._POSTGRES[0].replace("billing_hold_settle_batch(", "billing_hold_settle_batch_naive(")
    assert "LEAST(r.cost, h.amount_nanos)" in body
    with connection.cursor() as cursor:
        cursor.execute(body.replace("LEAST(r.cost, h.amount_nanos)", "r.cost"))
    return pg_batch.BATCH_SETTLE_CALL.replace(
        "billing_hold_settle_batch(", "billing_hold_settle_batch_naive("
    )


def test_without_its_cap_a_batch_would_overdraw_and_with_it_never_does(make_customer, endpoint):
    hold = 100 * 1000 + 50 * 2000
    big = 5000  # completion tokens: each answer's reported cost is far above its hold
    naive_call = _naive_batch_function()

    def settle_together(customer: Any, call: str) -> None:
        async def batch() -> None:
            reserved = await _reserve(customer, endpoint, 2)
            rows = []
            for generation_id, reservation in reserved:
                outcome = _outcome(customer, endpoint, reservation, generation_id, **NOT_LOGGED)
                outcome.usage.completion_tokens = big
                values = settlement._values(outcome, settlement.cost_of(outcome))
                params = pg_batch.pg_async.row_params(Generation, values)
                rows.append(
                    pg_batch._Row(Generation, values, params, reservation.hold_id, values["cost_nanos"], "")
                )
            statement = pg_batch.batch_statement(Generation, 2).replace(pg_batch.BATCH_SETTLE_CALL, call)
            await pgpool.fetch_value(statement, pg_batch.batch_params(rows))

        run(batch())

    naive = make_customer(credits_nanos=2 * hold)
    settle_together(naive, naive_call)
    assert naive.balance() < 0  # the race the cap closes: two answers charged past the balance

    capped = make_customer(credits_nanos=2 * hold)
    settle_together(capped, pg_batch.BATCH_SETTLE_CALL)
    assert (capped.balance(), capped.held()) == (0, 0)  # each charge stopped at its hold
    assert Shortfall.objects.filter(account=capped.account, kind=Shortfall.Kind.OVER_HOLD).count() == 2
    with connection.cursor() as cursor:
        cursor.execute("DROP FUNCTION billing_hold_settle_batch_naive")
