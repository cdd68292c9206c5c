"""Two scanners at once (two cron runs overlapping, two machines) send an alert once.

PostgreSQL only: there each subject's state row is locked while the alert is decided.
The first test shows the race with that lock taken away: both scanners see "not sent
yet" and both send.
"""

import threading
import time

import pytest
from django.db import connection, connections
from django.db.models import QuerySet

from billing import services
from billing.alerts.models import AlertEmail, AlertState
from billing.alerts.scan import scan_balances
from billing.alerts.services import alert_settings_update
from billing.tests.factories import UserFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]


def _two_scanners(monkeypatch) -> int:
    """Scanner A decides and pauses just before recording; B scans meanwhile. Returns emails queued."""
    user = UserFactory()
    account = services.account_for_user(user=user)
    alert_settings_update(account=account, low_balance_nanos=1_000, limit_emails=True, actor=user)
    # Sent once before and re-armed by a top-up: the row exists (a first insert is
    # serialised by the unique subject anyway).
    AlertState.objects.create(subject=f"balance:{account.pk}", level=0)
    b_started = threading.Event()
    real_save = AlertState.save

    def paused_save(self, *args, **kwargs):
        if threading.current_thread().name == "scanner-a":
            b_started.wait(5)
            time.sleep(0.5)  # B is now at its read of the state row
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(AlertState, "save", paused_save)

    def run(name: str) -> None:
        try:
            if name == "scanner-b":
                b_started.set()
            scan_balances()
        finally:
            connections.close_all()

    a = threading.Thread(target=run, args=("scanner-a",), name="scanner-a")
    b = threading.Thread(target=run, args=("scanner-b",), name="scanner-b")
    a.start()
    time.sleep(0.3)  # A holds its decision
    b.start()
    a.join(20)
    b.join(20)
    return AlertEmail.objects.count()


def test_without_the_row_lock_both_scanners_send(monkeypatch):
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, *args, **kwargs: self)
    assert _two_scanners(monkeypatch) == 2


def test_with_the_row_lock_the_alert_is_sent_once(monkeypatch):
    assert _two_scanners(monkeypatch) == 1
