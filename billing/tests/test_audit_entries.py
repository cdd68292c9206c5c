"""Every way money arrives is in the audit log: admin grants, redeem codes (made and
redeemed) and card payments, with who did it; the owner's log shows their own."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from accounts.audit_log.models import AuditEntry
from billing import services
from billing.models import Payment
from billing.tests.factories import UserFactory
from billing.tests.stripe_standin import completed_event
from billing.tests.test_stripe import _deliver, _paid_session, buyer, standin, stripe_on  # noqa: F401


def test_an_admin_grant_is_logged_with_the_admin_the_amount_and_the_owner(client, account):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    form = {"action": "grant_credits", ACTION_CHECKBOX_NAME: [account.pk], "amount": "3.5", "memo": "voucher"}
    client.post("/admin/billing/creditaccount/", form | {"apply": "Grant"})
    [entry] = AuditEntry.objects.filter(action="credits.grant")
    assert (entry.actor, entry.owner, entry.target_id) == (admin, account.user, str(account.pk))
    assert entry.new["amount_nanos"] == 3_500_000_000 and entry.new["memo"] == "voucher"


def test_a_grant_repeated_with_its_idempotency_key_is_logged_once(account):
    for _ in range(2):
        services.credits_grant(account=account, amount_nanos=5, idempotency_key="signup:x")
    assert AuditEntry.objects.filter(action="credits.grant").count() == 1


def test_making_and_redeeming_codes_is_logged(client, account):
    admin = UserFactory(is_staff=True, is_superuser=True)
    batch = services.redeem_codes_create(count=2, value_nanos=5_000_000_000, created_by=admin, batch="conf")
    client.force_login(account.user)
    client.post("/credits/redeem/", {"code": batch.codes[0]})
    client.post("/credits/redeem/", {"code": batch.codes[0]})  # refused: nothing logged
    made = AuditEntry.objects.get(action="redeem_codes.create")
    assert (made.actor, made.target_id, made.new["count"]) == (admin, "conf", 2)
    assert batch.codes[0] not in str(made.new)
    [redeemed] = AuditEntry.objects.filter(action="credits.redeem")
    assert (redeemed.actor, redeemed.owner, redeemed.new["amount_nanos"]) == (
        account.user,
        account.user,
        5_000_000_000,
    )


def test_a_card_payment_is_logged_once_as_stripes(stripe_on, buyer, account):  # noqa: F811
    session = _paid_session(stripe_on, buyer)
    _deliver(buyer, completed_event(session))
    _deliver(buyer, completed_event(session))  # a replay credits nothing and logs nothing
    [entry] = AuditEntry.objects.filter(action="payment.credit")
    assert (entry.actor, entry.actor_repr, entry.owner) == (None, "stripe", account.user)
    assert (entry.old, entry.new["status"], entry.new["amount_nanos"]) == (
        {"status": "pending"},
        "paid",
        20_000_000_000,
    )
    assert entry.target_id == str(Payment.objects.get().pk)


def test_an_expired_checkout_is_logged_as_failed(stripe_on, buyer, account):  # noqa: F811
    session = _paid_session(stripe_on, buyer)
    event = completed_event(session) | {"type": "checkout.session.expired"}
    assert _deliver(buyer, event).content == b"failed"
    [entry] = AuditEntry.objects.filter(action="payment.fail")
    assert entry.new["status"] == "failed" and entry.owner == account.user


@pytest.mark.parametrize("path", ["/credits/redeem/"])
def test_a_failed_redeem_leaves_no_entry(client, account, path):
    client.force_login(account.user)
    client.post(path, {"code": "PG-NOPE"})
    assert not AuditEntry.objects.exists()
