"""Helpers for the concurrency tests: run one call from many threads at once, and the
naive read-check-write versions of the protected operations, used to show that each
race is real before showing that the real service closes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.secrets import hash_secret
from billing import services
from billing.models import CreditAccount, Hold, LedgerEntry, Payment, RedeemCode

ROOT = Path(__file__).resolve().parents[2]


def start_race_worker(args: dict[str, Any]) -> subprocess.Popen:
    """``billing.tests.race_worker`` in a second interpreter against this test database."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{credentials}@{host}/{db['NAME']}",
        DJANGO_SETTINGS_MODULE="promptgrid.test_settings",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "billing.tests.race_worker", json.dumps(args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# How long the naive versions pause between their read and their write: the gap any
# real request has (a network hop, a context switch), made wide enough to hit every run.
WINDOW_SECONDS = 0.02


def concurrently(
    fn: Callable[[], Any], *, threads: int, attempts: int = 1, start_at: float | None = None
) -> list:
    """Call ``fn`` ``attempts`` times in each of ``threads`` threads released together.

    Returns the results, exceptions included. Each thread closes its own database
    connection, so the test database can be flushed afterwards.
    """
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            if start_at is not None:
                time.sleep(max(0.0, start_at - time.time()))
            for _ in range(attempts):
                try:
                    outcome: Any = fn()
                except Exception as exc:
                    outcome = exc
                with lock:
                    results.append(outcome)
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    return results


def naive_hold_place(*, account_id: int, amount_nanos: int, ttl_seconds: int = 600) -> Hold:
    """Read the balance, decide, then write: what ``hold_place`` must not be."""
    with transaction.atomic():
        account = CreditAccount.objects.get(pk=account_id)
        if account.balance_nanos - account.held_nanos < amount_nanos:
            raise services.InsufficientCredits("insufficient credits")
        time.sleep(WINDOW_SECONDS)
        CreditAccount.objects.filter(pk=account_id).update(held_nanos=F("held_nanos") + amount_nanos)
        return Hold.objects.create(
            account_id=account_id,
            amount_nanos=amount_nanos,
            expires_at=timezone.now() + timedelta(seconds=ttl_seconds),
        )


def naive_redeem(*, account_id: int, code: str) -> LedgerEntry:
    """Check the code is unused, then mark it and credit: what ``redeem_code_redeem`` must not be."""
    with transaction.atomic():
        row = RedeemCode.objects.get(code_hash=hash_secret(services.redeem_code_normalize(code)))
        if row.redeemed_at is not None:
            raise services.RedeemRefused("This code has already been redeemed.")
        time.sleep(WINDOW_SECONDS)
        RedeemCode.objects.filter(pk=row.pk).update(redeemed_at=timezone.now(), redeemed_by_id=account_id)
        entry, _ = services.ledger_post(
            account_id=account_id,
            kind=LedgerEntry.Kind.TOPUP,
            amount_nanos=row.value_nanos,
            idempotency_key=f"naive-redeem:{uuid.uuid4().hex}",
        )
        return entry


def naive_payment_confirm(*, session_id: str) -> str:
    """Check the payment is pending, then credit: no row lock, no idempotency key."""
    with transaction.atomic():
        payment = Payment.objects.get(stripe_session_id=session_id)
        if payment.status == Payment.Status.PAID:
            return "already credited"
        time.sleep(WINDOW_SECONDS)
        services.ledger_post(
            account_id=payment.account_id,
            kind=LedgerEntry.Kind.TOPUP,
            amount_nanos=payment.amount_nanos,
            idempotency_key=f"naive-stripe:{uuid.uuid4().hex}",
        )
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.PAID)
        return "credited"
