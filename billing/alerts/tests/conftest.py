"""Billing's fixtures, including the ledger audit that must pass after every money test."""

import pytest

from billing.tests.conftest import _audit_after_test, account, allow_audit_violations, funded, user  # noqa: F401


@pytest.fixture
def scan(django_capture_on_commit_callbacks):
    """``alerts_scan`` as the command runs it: its emails go when its transactions commit."""
    from billing.alerts.scan import alerts_scan

    def run(now=None) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return alerts_scan(now)

    return run
