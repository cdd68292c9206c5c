"""Billing's fixtures, including the ledger audit that must pass after every money test."""

import pytest

from billing.tests.conftest import _audit_after_test, account, allow_audit_violations, funded, user  # noqa: F401


@pytest.fixture
def scan():
    """``alerts_scan`` as the command runs it, then the emails it queued."""
    from billing.alerts.scan import alerts_scan
    from billing.alerts.services import alert_emails_send

    def run(now=None) -> int:
        fired = alerts_scan(now)
        alert_emails_send(now)
        return fired

    return run
