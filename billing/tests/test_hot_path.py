"""The request's bookkeeping in as few statements as it takes, with the same results.

On PostgreSQL a hold and a settlement (Generation row included) are one statement each;
on SQLite the ORM path runs them without savepoints. Either way the money comes out as
the slower path left it: these tests assert balances, holds and key counters, not only
statement counts.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_create
from billing import services
from billing.models import CreditAccount, Generation, Hold, LedgerEntry
from billing.tests.factories import UserFactory

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the single-statement path exists on PostgreSQL only"
)


@pytest.fixture
def thousand(account):
    services.credits_grant(account=account, amount_nanos=1000, idempotency_key="seed")
    return account


def _generation(account, generation_id: str | None = None) -> Generation:
    return Generation(
        id=generation_id or f"gen-{uuid.uuid4().hex}",
        user_id=account.user_id,
        model_slug="mock/echo",
        status=Generation.Status.SUCCESS,
        cost_nanos=0,
        created_at=timezone.now(),
    )


def _statements(queries, *, savepoints: bool = True) -> list[str]:
    """First words of the statements; without the test's own savepoint when ``savepoints=False``."""
    words = [q["sql"].lstrip().split(None, 1)[0].upper() for q in queries.captured_queries]
    return words if savepoints else [w for w in words if w not in ("SAVEPOINT", "RELEASE")]


@postgres_only
def test_a_hold_and_its_settlement_are_one_statement_each(thousand):
    key, _ = api_key_create(user=thousand.user, name="k", limit_nanos=900)
    with CaptureQueriesContext(connection) as placing:
        hold = services.hold_place(
            account_id=thousand.pk, amount_nanos=400, ttl_seconds=60, api_key_id=key.pk
        )
    generation = _generation(thousand)
    with CaptureQueriesContext(connection) as settling:
        services.generation_settle(generation=generation, hold_id=hold.id, cost_nanos=150)
    assert len(placing.captured_queries) == 1
    assert len(settling.captured_queries) == 1
    account = CreditAccount.objects.get(pk=thousand.pk)
    assert (account.balance_nanos, account.held_nanos) == (850, 0)
    key.refresh_from_db()
    assert (key.held_nanos, key.usage_nanos, key.period_usage_nanos) == (0, 150, 150)
    assert Generation.objects.get(pk=generation.pk).model_slug == "mock/echo"
    assert Hold.objects.get(pk=hold.id).status == Hold.Status.SETTLED


def test_a_hold_reads_nothing_before_it_reserves(thousand):
    key, _ = api_key_create(user=thousand.user, name="k", limit_nanos=900, limit_reset=ApiKey.Reset.DAILY)
    with CaptureQueriesContext(connection) as placing:
        services.hold_place(account_id=thousand.pk, amount_nanos=400, ttl_seconds=60, api_key_id=key.pk)
    statements = _statements(placing, savepoints=False)
    if connection.vendor == "postgresql":
        assert statements == ["SELECT"]  # the function call
    else:
        # account, key, the key's organisation (an in-process read: SQLite has no round trips), hold
        assert statements == ["UPDATE", "UPDATE", "SELECT", "INSERT"]
    key.refresh_from_db()
    assert key.held_nanos == 400 and key.period_start is not None


def test_an_expired_hold_is_left_to_the_sweep_while_there_is_room(thousand):
    old = services.hold_place(account_id=thousand.pk, amount_nanos=300, ttl_seconds=60)
    Hold.objects.filter(pk=old.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.hold_place(account_id=thousand.pk, amount_nanos=300, ttl_seconds=60)
    assert Hold.objects.get(pk=old.id).status == Hold.Status.OPEN
    assert CreditAccount.objects.get(pk=thousand.pk).held_nanos == 600
    assert services.holds_release_expired() == 1
    assert CreditAccount.objects.get(pk=thousand.pk).held_nanos == 300


def test_an_expired_hold_of_a_key_is_released_when_it_stands_in_the_way(thousand):
    key, _ = api_key_create(user=thousand.user, name="k", limit_nanos=900)
    old = services.hold_place(account_id=thousand.pk, amount_nanos=800, ttl_seconds=60, api_key_id=key.pk)
    Hold.objects.filter(pk=old.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.hold_place(account_id=thousand.pk, amount_nanos=700, ttl_seconds=60, api_key_id=key.pk)
    assert Hold.objects.get(pk=old.id).status == Hold.Status.EXPIRED
    key.refresh_from_db()
    assert key.held_nanos == 700
    assert CreditAccount.objects.get(pk=thousand.pk).held_nanos == 700


def test_a_key_refusal_takes_back_the_accounts_reservation(thousand):
    key, _ = api_key_create(user=thousand.user, name="k", limit_nanos=100)
    with pytest.raises(services.KeyLimitReached):
        services.hold_place(account_id=thousand.pk, amount_nanos=101, ttl_seconds=60, api_key_id=key.pk)
    assert CreditAccount.objects.get(pk=thousand.pk).held_nanos == 0
    key.refresh_from_db()
    assert key.held_nanos == 0
    assert not Hold.objects.exists()


def test_settling_writes_the_generation_and_the_charge_once(thousand):
    hold = services.hold_place(account_id=thousand.pk, amount_nanos=500, ttl_seconds=60)
    generation = _generation(thousand)
    services.generation_settle(generation=generation, hold_id=hold.id, cost_nanos=123)
    again = services.hold_place(account_id=thousand.pk, amount_nanos=100, ttl_seconds=60)
    # Another hold settled for the same generation charges nothing more.
    assert (
        services.hold_settle(hold_id=again.id, cost_nanos=123, generation_id=generation.pk).amount_nanos
        == -123
    )
    entries = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE, generation_id=generation.pk)
    assert [e.amount_nanos for e in entries] == [-123]
    account = CreditAccount.objects.get(pk=thousand.pk)
    assert (account.balance_nanos, account.held_nanos) == (877, 0)


def test_a_settlement_of_an_unknown_hold_writes_neither_row_nor_charge(thousand):
    generation = _generation(thousand)
    with pytest.raises(Hold.DoesNotExist):
        with transaction.atomic():
            services.generation_settle(generation=generation, hold_id=987654321, cost_nanos=50)
    assert not Generation.objects.filter(pk=generation.pk).exists()
    assert CreditAccount.objects.get(pk=thousand.pk).balance_nanos == 1000


def test_a_generation_charged_to_another_account_is_refused(thousand):
    other = UserFactory().credit_account
    services.credits_grant(account=other, amount_nanos=1000, idempotency_key="seed")
    generation = _generation(thousand)
    first = services.hold_place(account_id=thousand.pk, amount_nanos=100, ttl_seconds=60)
    services.generation_settle(generation=generation, hold_id=first.id, cost_nanos=40)
    second = services.hold_place(account_id=other.pk, amount_nanos=100, ttl_seconds=60)
    with pytest.raises(services.IntegrityError):
        with transaction.atomic():
            services.hold_settle(hold_id=second.id, cost_nanos=40, generation_id=generation.pk)
    assert CreditAccount.objects.get(pk=other.pk).balance_nanos == 1000


@pytest.mark.django_db(transaction=True)
def test_the_settlement_path_takes_no_savepoints():
    account = UserFactory().credit_account
    services.credits_grant(account=account, amount_nanos=1000, idempotency_key="seed")
    hold = services.hold_place(account_id=account.pk, amount_nanos=500, ttl_seconds=60)
    with CaptureQueriesContext(connection) as settling:
        services.generation_settle(generation=_generation(account), hold_id=hold.id, cost_nanos=5)
    assert "SAVEPOINT" not in _statements(settling)
    assert CreditAccount.objects.get(pk=account.pk).balance_nanos == 995


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_only_the_hold_commits_without_waiting_for_the_disk():
    account = UserFactory().credit_account
    services.credits_grant(account=account, amount_nanos=1000, idempotency_key="seed")
    default = _synchronous_commit()
    assert default != "off"
    with transaction.atomic():
        hold = services.hold_place(account_id=account.pk, amount_nanos=500, ttl_seconds=60)
        assert _synchronous_commit() == "off"
    assert _synchronous_commit() == default  # SET LOCAL: gone with the hold's transaction
    with transaction.atomic():
        services.generation_settle(generation=_generation(account), hold_id=hold.id, cost_nanos=5)
        assert _synchronous_commit() == default  # a charge waits for its commit to be durable
    assert CreditAccount.objects.get(pk=account.pk).balance_nanos == 995
