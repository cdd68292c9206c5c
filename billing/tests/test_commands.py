from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing import services
from billing.models import CreditAccount, Hold, LedgerEntry
from billing.tests.factories import UserFactory, generation_for


def test_grant_credits_grants_to_the_user_with_that_email(db):
    user = UserFactory(email="Ada@Example.com")
    out = StringIO()
    call_command(
        "grant_credits", "--email", "ada@example.com", "--amount", "2.50", "--memo", "welcome", stdout=out
    )
    entry = LedgerEntry.objects.get()
    assert (entry.amount_nanos, entry.memo, entry.kind) == (2_500_000_000, "welcome", "grant")
    assert CreditAccount.objects.get(user=user).balance_nanos == 2_500_000_000
    assert "balance is now $2.50" in out.getvalue()


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "NaN", "0.0000000001"])
def test_grant_credits_refuses_bad_amounts(db, amount):
    UserFactory(email="a@example.com")
    with pytest.raises(CommandError):
        call_command("grant_credits", "--email", "a@example.com", "--amount", amount)
    assert not LedgerEntry.objects.exists()


def test_grant_credits_refuses_an_unknown_email(db):
    with pytest.raises(CommandError, match="no user"):
        call_command("grant_credits", "--email", "nobody@example.com", "--amount", "1")


def test_audit_passes_on_a_consistent_ledger(funded):
    gen = generation_for(funded)
    hold = services.hold_place(account_id=funded.pk, amount_nanos=100, ttl_seconds=60)
    services.hold_settle(hold_id=hold.id, cost_nanos=70, generation_id=gen.id)
    services.hold_place(account_id=funded.pk, amount_nanos=100, ttl_seconds=60)
    out = StringIO()
    call_command("audit_ledger", stdout=out)
    assert "OK: no violations." in out.getvalue()


def test_audit_reports_each_violation_and_fails(funded, allow_audit_violations):
    # Usage that names no Generation row.
    services.ledger_post(
        account_id=funded.pk, kind="usage", amount_nanos=-5, idempotency_key="u", generation_id="gen-missing"
    )
    # A negative available balance: an adjustment far above what the account had (a
    # settlement cannot do it: it never charges more than its hold).
    services.ledger_post(
        account_id=funded.pk, kind="adjustment", amount_nanos=-20_000_000_000, idempotency_key="adj"
    )
    # A hold that outlived its ttl, and an account whose held total disagrees with its holds.
    Hold.objects.create(account=funded, amount_nanos=90, expires_at=timezone.now() - timedelta(hours=1))
    out = StringIO()
    with pytest.raises(CommandError, match="violation"):
        call_command("audit_ledger", stdout=out)
    report = out.getvalue()
    assert "usage without generation" in report and "gen-missing" in report
    assert "expired hold open" in report
    assert "held: account" in report
    assert "available: account" in report


def test_audit_detects_a_balance_that_disagrees_with_its_entries(funded, allow_audit_violations):
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Only a superuser switching triggers off can do this; the audit still sees it.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE billing_creditaccount SET balance_nanos = 1 WHERE id = %s", [funded.pk])
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(CommandError):
        call_command("audit_ledger", stdout=StringIO())


def test_audit_detects_a_generation_charged_twice(funded, allow_audit_violations):
    from django.db import connection

    gen = generation_for(funded)
    services.ledger_post(
        account_id=funded.pk, kind="usage", amount_nanos=-1, idempotency_key="a", generation_id=gen.id
    )
    with connection.cursor() as cursor:
        # Bypass the unique index as a broken import would, to prove the audit notices.
        cursor.execute("DROP INDEX ledger_usage_generation_unique")
        cursor.execute(
            "INSERT INTO billing_ledgerentry (account_id, kind, amount_nanos, generation_id, idempotency_key,"
            " memo, created_at) VALUES (%s, 'usage', -1, %s, 'b', '', CURRENT_TIMESTAMP)",
            [funded.pk, gen.id],
        )
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("audit_ledger", stdout=out)
    assert "charged twice" in out.getvalue()
