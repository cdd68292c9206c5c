"""Billing test fixtures. Every billing test that touches the database ends with a
ledger audit that must pass, unless it asks for ``allow_audit_violations``."""

from __future__ import annotations

import pytest

_DB_FIXTURES = ("transactional_db", "db", "live_server")


@pytest.fixture(autouse=True)
def _audit_after_test(request: pytest.FixtureRequest):
    uses_db = any(name in request.fixturenames for name in _DB_FIXTURES) or request.node.get_closest_marker(
        "django_db"
    )
    if not uses_db:
        yield
        return
    # Depend on the database fixture so this teardown runs before the rollback/flush.
    name = next((n for n in _DB_FIXTURES if n in request.fixturenames), "db")
    request.getfixturevalue("transactional_db" if name == "live_server" else name)
    yield
    if "allow_audit_violations" in request.fixturenames:
        return
    from billing.audit import ledger_audit

    violations = ledger_audit()
    assert violations == [], "ledger audit failed after the test:\n" + "\n".join(map(str, violations))


@pytest.fixture
def allow_audit_violations() -> None:
    """The test creates violations on purpose (it tests the audit)."""


@pytest.fixture
def user(db):
    from billing.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def account(user):
    from billing import services

    return services.account_for_user(user=user)


@pytest.fixture
def funded(account):
    """An account with $10 of granted credits."""
    from billing import services
    from promptgrid.money import usd_to_nanos

    services.credits_grant(account=account, amount_nanos=usd_to_nanos("10"), idempotency_key="seed")
    account.refresh_from_db()
    return account
