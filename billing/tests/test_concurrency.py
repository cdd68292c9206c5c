"""Races on PostgreSQL, where requests really run in parallel (SQLite serialises every
write transaction, so these races cannot happen there).

Each test first runs a naive read-check-write version of the operation under the same
load and shows the race is real (money is overdrawn or credited twice), then runs the
real service and shows exactly the right number of successes and a clean audit.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from django.db import connection
from django.test import Client, override_settings

from billing import services
from billing.audit import ledger_audit
from billing.models import CreditAccount, Hold, LedgerEntry, Payment
from billing.tests import races
from billing.tests.factories import UserFactory
from billing.tests.stripe_standin import SECRET_KEY, WEBHOOK_SECRET, completed_event, signed_event

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises write transactions; races need PostgreSQL",
    ),
]

AMOUNT = 1_000_000  # one request's worst case: $0.001
N = 8  # requests the account can afford


def _funded_account(n: int = N) -> CreditAccount:
    account = services.account_for_user(user=UserFactory())
    services.credits_grant(account=account, amount_nanos=n * AMOUNT)
    return CreditAccount.objects.get(pk=account.pk)


def _worker(account_id: int, mode: str, start_at: float) -> subprocess.Popen:
    args = {"account_id": account_id, "amount": AMOUNT, "threads": 5, "attempts": 4, "mode": mode}
    return races.start_race_worker({**args, "start_at": start_at})


def _storm(account_id: int, mode: str) -> int:
    """2 processes x 5 threads x 4 attempts + 4 threads x 3 attempts here = 52 >= 5N attempts.
    Returns how many holds were placed."""
    start_at = time.time() + 4  # both interpreters start Django in time
    workers = [_worker(account_id, mode, start_at) for _ in range(2)]
    place = services.hold_place if mode == "real" else races.naive_hold_place
    local = races.concurrently(
        lambda: place(account_id=account_id, amount_nanos=AMOUNT, ttl_seconds=600),
        threads=4,
        attempts=3,
        start_at=start_at,
    )
    placed = sum(1 for r in local if not isinstance(r, Exception))
    assert all(isinstance(r, services.BillingError) for r in local if isinstance(r, Exception)), local
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        report = json.loads(out.strip().splitlines()[-1])
        assert report["errors"] == [], report
        placed += report["ok"]
    return placed


def _violations_except(account: CreditAccount) -> list:
    return [v for v in ledger_audit() if v.subject != f"account {account.pk}"]


def test_holds_never_overdraw_under_threads_and_two_processes(transactional_db, allow_audit_violations):
    # The race is real: a read-check-write hold lets more requests through than the money covers.
    naive = _funded_account()
    naive_placed = _storm(naive.pk, "naive")
    naive.refresh_from_db()
    assert naive_placed > N
    assert naive.available_nanos < 0

    # hold_place closes it: exactly N holds, nothing overdrawn, and the audit passes.
    account = _funded_account()
    placed = _storm(account.pk, "real")
    account.refresh_from_db()
    assert placed == N
    assert Hold.objects.filter(account=account, status=Hold.Status.OPEN).count() == N
    assert (account.balance_nanos, account.held_nanos, account.available_nanos) == (N * AMOUNT, N * AMOUNT, 0)
    assert _violations_except(naive) == []


def test_a_code_redeemed_twice_at_once_credits_once(transactional_db, allow_audit_violations):
    admin = UserFactory(is_staff=True)
    rounds = 5

    naive = services.account_for_user(user=UserFactory())
    naive_codes = services.redeem_codes_create(count=rounds, value_nanos=AMOUNT, created_by=admin).codes
    for code in naive_codes:
        races.concurrently(lambda c=code: races.naive_redeem(account_id=naive.pk, code=c), threads=2)
    naive_credits = LedgerEntry.objects.filter(account=naive).count()
    assert naive_credits > rounds  # some codes paid out twice

    account = services.account_for_user(user=UserFactory())
    codes = services.redeem_codes_create(count=rounds, value_nanos=AMOUNT, created_by=admin).codes
    for code in codes:
        results = races.concurrently(
            lambda c=code: services.redeem_code_redeem(account_id=account.pk, code=c), threads=2
        )
        assert sum(isinstance(r, LedgerEntry) for r in results) == 1, results
        assert sum(isinstance(r, services.RedeemRefused) for r in results) == 1, results
    account.refresh_from_db()
    assert LedgerEntry.objects.filter(account=account).count() == rounds
    assert account.balance_nanos == rounds * AMOUNT
    # The naive run left codes redeemed once but credited twice; nothing else is off.
    assert [v for v in ledger_audit() if v.check != "code not credited"] == []


def _payment(account: CreditAccount, session_id: str) -> Payment:
    return Payment.objects.create(
        account=account,
        stripe_session_id=session_id,
        amount_nanos=20 * 10**9,
        amount_cents=2000,
        currency="usd",
    )


def test_the_same_stripe_event_delivered_twice_at_once_credits_once(transactional_db, allow_audit_violations):
    rounds = 5
    naive = services.account_for_user(user=UserFactory())
    for i in range(rounds):
        _payment(naive, f"cs_naive_{i}")
        races.concurrently(lambda i=i: races.naive_payment_confirm(session_id=f"cs_naive_{i}"), threads=2)
    assert LedgerEntry.objects.filter(account=naive).count() > rounds

    account = services.account_for_user(user=UserFactory())
    with override_settings(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET):
        for i in range(rounds):
            session_id = f"cs_real_{i}"
            _payment(account, session_id)
            session = {
                "id": session_id,
                "object": "checkout.session",
                "amount_total": 2000,
                "currency": "usd",
                "payment_status": "paid",
                "metadata": {"account_id": str(account.pk)},
            }
            payload, header = signed_event(completed_event(session))

            def deliver(payload: str = payload, header: str = header) -> bytes:
                response = Client().post(
                    "/billing/stripe/webhook/",
                    payload,
                    content_type="application/json",
                    HTTP_STRIPE_SIGNATURE=header,
                )
                assert response.status_code == 200
                return response.content

            results = races.concurrently(deliver, threads=2)
            assert sorted(results) == [b"already credited", b"credited"], results
    account.refresh_from_db()
    assert account.balance_nanos == rounds * 20 * 10**9
    assert LedgerEntry.objects.filter(account=account).count() == rounds
    # The naive run credited its payments under keys of its own; nothing else is off.
    assert [v for v in ledger_audit() if "cs_naive_" not in v.detail] == []
