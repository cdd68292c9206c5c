from decimal import Decimal

from billing.models import CreditAccount, LedgerEntry
from billing.tests.factories import UserFactory


def test_a_new_user_gets_an_account_and_the_signup_credits_once(db, settings):
    settings.SIGNUP_CREDITS = Decimal("1.25")
    user = UserFactory()
    user.first_name = "Changed"
    user.save()
    account = CreditAccount.objects.get(user=user)
    assert account.balance_nanos == 1_250_000_000
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.kind, entry.idempotency_key) == ("grant", f"signup:{user.pk}")


def test_no_signup_credits_by_default(db):
    user = UserFactory()
    assert CreditAccount.objects.get(user=user).balance_nanos == 0
    assert not LedgerEntry.objects.exists()
