import pytest
from django.contrib.auth import get_user_model

from billing import services
from billing.models import CreditAccount, LedgerEntry


@pytest.fixture
def account(db):
    user = get_user_model().objects.create_user("a@example.com", "a@example.com", "pw")
    account = services.account_for_user(user=user)
    services.credits_grant(account=account, amount_nanos=1000, idempotency_key="seed")
    return account


def test_hold_refused_when_available_balance_is_short(account):
    services.hold_place(account_id=account.pk, amount_nanos=600, ttl_seconds=60)
    with pytest.raises(services.InsufficientCredits):
        services.hold_place(account_id=account.pk, amount_nanos=600, ttl_seconds=60)
    account.refresh_from_db()
    assert account.held_nanos == 600


def test_settle_charges_actual_cost_once(account):
    hold = services.hold_place(account_id=account.pk, amount_nanos=500, ttl_seconds=60)
    services.hold_settle(hold_id=hold.id, cost_nanos=123, generation_id="gen-1")
    services.hold_settle(hold_id=hold.id, cost_nanos=123, generation_id="gen-1")
    account.refresh_from_db()
    assert (account.balance_nanos, account.held_nanos) == (877, 0)
    assert LedgerEntry.objects.filter(kind="usage").count() == 1
    assert CreditAccount.objects.get(pk=account.pk).balance_nanos == sum(
        LedgerEntry.objects.values_list("amount_nanos", flat=True)
    )
