import pytest
from django.db import DatabaseError, connection, transaction

from billing import db_triggers, services
from billing.models import CreditAccount, LedgerEntry, LedgerImmutable
from billing.tests.factories import UserFactory, generation_for

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL-only trigger")


def test_the_ledger_triggers_are_installed_after_migrations(db):
    assert set(db_triggers.TRIGGER_NAMES) <= db_triggers.installed(connection)


def test_an_entry_moves_the_balance_in_the_same_transaction(funded):
    assert funded.balance_nanos == 10_000_000_000
    with pytest.raises(RuntimeError), transaction.atomic():
        services.credits_grant(account=funded, amount_nanos=5, idempotency_key="rolled-back")
        assert CreditAccount.objects.get(pk=funded.pk).balance_nanos == 10_000_000_005
        raise RuntimeError
    assert CreditAccount.objects.get(pk=funded.pk).balance_nanos == 10_000_000_000
    assert not LedgerEntry.objects.filter(idempotency_key="rolled-back").exists()


def test_a_repeated_idempotency_key_changes_nothing(account):
    first, created = services.ledger_post(
        account_id=account.pk, kind="grant", amount_nanos=7, idempotency_key="k1"
    )
    again, created_again = services.ledger_post(
        account_id=account.pk, kind="grant", amount_nanos=7, idempotency_key="k1"
    )
    assert (created, created_again, first.pk == again.pk) == (True, False, True)
    assert CreditAccount.objects.get(pk=account.pk).balance_nanos == 7


def test_two_grants_without_a_key_are_two_grants(account):
    services.credits_grant(account=account, amount_nanos=1)
    services.credits_grant(account=account, amount_nanos=1)
    assert CreditAccount.objects.get(pk=account.pk).balance_nanos == 2


@pytest.mark.parametrize(
    ("kind", "amount", "generation"),
    [
        ("grant", -5, ""),
        ("topup", -1, ""),
        ("usage", 5, "gen-x"),
        ("usage", -5, ""),
        ("grant", 0, ""),
        ("x", 1, ""),
    ],
)
def test_entries_with_the_wrong_sign_or_missing_generation_are_refused(account, kind, amount, generation):
    with pytest.raises(ValueError):
        services.ledger_post(
            account_id=account.pk,
            kind=kind,
            amount_nanos=amount,
            idempotency_key="k",
            generation_id=generation,
        )


def test_a_generation_cannot_be_charged_on_two_accounts(funded):
    other = services.account_for_user(user=UserFactory())
    services.credits_grant(account=other, amount_nanos=100)
    gen = generation_for(funded)
    services.ledger_post(
        account_id=funded.pk, kind="usage", amount_nanos=-1, idempotency_key="usage:a", generation_id=gen.id
    )
    with pytest.raises(DatabaseError):
        services.ledger_post(
            account_id=other.pk,
            kind="usage",
            amount_nanos=-1,
            idempotency_key="usage:b",
            generation_id=gen.id,
        )


def test_entries_cannot_be_changed_or_deleted_through_the_orm(funded):
    entry = LedgerEntry.objects.get(account=funded)
    entry.amount_nanos = 1
    with pytest.raises(LedgerImmutable):
        entry.save()
    with pytest.raises(LedgerImmutable):
        entry.delete()
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount_nanos=1)
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.all().delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount_nanos == 10_000_000_000


def test_raw_sql_cannot_change_an_entry(funded):
    entry = LedgerEntry.objects.get(account=funded)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE billing_ledgerentry SET amount_nanos = 1 WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).amount_nanos == 10_000_000_000


@needs_postgres
def test_raw_sql_cannot_delete_an_entry_on_postgres(funded):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_ledgerentry")
    assert LedgerEntry.objects.count() == 1


@needs_postgres
def test_raw_sql_cannot_move_a_balance_without_an_entry_on_postgres(funded):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE billing_creditaccount SET balance_nanos = 999 WHERE id = %s", [funded.pk])
    assert CreditAccount.objects.get(pk=funded.pk).balance_nanos == 10_000_000_000


def test_the_orm_cannot_move_a_balance_without_an_entry(funded):
    with pytest.raises(LedgerImmutable):
        CreditAccount.objects.filter(pk=funded.pk).update(balance_nanos=999)


def test_saving_a_stale_account_does_not_undo_a_charge(funded):
    stale = CreditAccount.objects.get(pk=funded.pk)
    services.credits_grant(account=funded, amount_nanos=5)
    stale.save()
    assert CreditAccount.objects.get(pk=funded.pk).balance_nanos == 10_000_000_005


def test_an_account_cannot_be_created_with_a_balance(db):
    with pytest.raises(LedgerImmutable):
        CreditAccount(user=UserFactory.build(), balance_nanos=5).save()


def test_the_database_refuses_an_account_created_with_a_balance(db):
    other = UserFactory()  # the signal opened an empty account; replace it by hand
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_creditaccount WHERE user_id = %s", [other.pk])
        cursor.execute(
            "INSERT INTO billing_creditaccount (user_id, balance_nanos, held_nanos, created_at)"
            " VALUES (%s, 5, 0, CURRENT_TIMESTAMP)",
            [other.pk],
        )


def test_the_ledger_triggers_come_back_after_migrate(db):
    from django.apps import apps

    from billing.apps import _ensure_triggers

    db_triggers.uninstall(connection)
    assert db_triggers.installed(connection) == set()
    _ensure_triggers(apps.get_app_config("billing"), using="default")
    assert set(db_triggers.TRIGGER_NAMES) <= db_triggers.installed(connection)
