import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from billing import services
from billing.models import CreditAccount, LedgerEntry
from billing.tests.factories import UserFactory


@pytest.fixture
def admin_client(client, db):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.admin = admin
    return client


def test_grant_action_asks_for_amount_and_memo_then_records_the_admin(admin_client, account):
    url = "/admin/billing/creditaccount/"
    form = admin_client.post(url, {"action": "grant_credits", ACTION_CHECKBOX_NAME: [account.pk]})
    assert "Grant credits" in form.content.decode()
    assert not LedgerEntry.objects.exists()
    admin_client.post(
        url,
        {
            "action": "grant_credits",
            ACTION_CHECKBOX_NAME: [account.pk],
            "amount": "3.5",
            "memo": "Conference voucher",
            "apply": "Grant",
        },
    )
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.kind, entry.amount_nanos, entry.memo, entry.actor) == (
        "grant",
        3_500_000_000,
        "Conference voucher",
        admin_client.admin,
    )
    assert CreditAccount.objects.get(pk=account.pk).balance_nanos == 3_500_000_000


def test_grant_action_refuses_a_non_positive_amount(admin_client, account):
    admin_client.post(
        "/admin/billing/creditaccount/",
        {
            "action": "grant_credits",
            ACTION_CHECKBOX_NAME: [account.pk],
            "amount": "0",
            "memo": "x",
            "apply": "1",
        },
    )
    assert not LedgerEntry.objects.exists()


def test_ledger_is_read_only_in_admin(admin_client, funded):
    entry = LedgerEntry.objects.get()
    assert admin_client.get("/admin/billing/ledgerentry/add/").status_code == 403
    assert admin_client.get(f"/admin/billing/ledgerentry/{entry.pk}/delete/").status_code == 403
    change = admin_client.post(f"/admin/billing/ledgerentry/{entry.pk}/change/", {"amount_nanos": "1"})
    assert change.status_code == 403
    assert LedgerEntry.objects.get().amount_nanos == 10_000_000_000
    assert admin_client.get(f"/admin/billing/ledgerentry/{entry.pk}/change/").status_code == 200


def test_ledger_admin_filters_by_user_kind_and_date(admin_client, funded):
    other = services.account_for_user(user=UserFactory(email="other@example.com"))
    services.credits_grant(account=other, amount_nanos=1, kind="topup", memo="other topup")
    page = admin_client.get("/admin/billing/ledgerentry/", {"kind": "topup"}).content.decode()
    assert "other topup" in page and "seed" not in page
    by_user = admin_client.get("/admin/billing/ledgerentry/", {"account__user__id__exact": funded.user_id})
    assert "other topup" not in by_user.content.decode()
    assert (
        admin_client.get(
            "/admin/billing/ledgerentry/", {"created_at__year": str(funded.created_at.year)}
        ).status_code
        == 200
    )


def test_account_balance_cannot_be_edited_in_admin(admin_client, funded):
    response = admin_client.post(f"/admin/billing/creditaccount/{funded.pk}/change/", {"balance_nanos": "1"})
    assert response.status_code == 403
    assert CreditAccount.objects.get(pk=funded.pk).balance_nanos == 10_000_000_000


def test_a_shortfall_is_listed_for_the_operator_and_leaves_the_audit_once_resolved(admin_client, funded):
    from accounts.audit_log.models import AuditEntry
    from billing.audit import ledger_audit
    from billing.models import Shortfall

    hold = services.hold_place(account_id=funded.pk, amount_nanos=100, ttl_seconds=60)
    services.shortfall_record_unsettled(
        generation_id="gen-lost", hold_id=hold.id, api_key_id=None, amount_nanos=400, detail="db down"
    )
    services.hold_release(hold_id=hold.id)
    assert [v.check for v in ledger_audit()] == ["settlement failed"]

    page = admin_client.get("/admin/billing/shortfall/")
    assert page.status_code == 200 and b"gen-lost" in page.content
    assert admin_client.get("/admin/billing/shortfall/add/").status_code == 403
    shortfall = Shortfall.objects.get()
    done = admin_client.post(
        "/admin/billing/shortfall/", {"action": "mark_resolved", ACTION_CHECKBOX_NAME: [shortfall.pk]}
    )

    assert done.status_code == 302
    assert Shortfall.objects.get().resolved_at is not None
    assert ledger_audit() == []
    entry = AuditEntry.objects.get(action="shortfall.resolve")
    assert entry.actor.is_superuser and entry.new["generation_id"] == "gen-lost"
    assert entry.new["amount_nanos"] == 400
    admin_client.post(
        "/admin/billing/shortfall/", {"action": "mark_resolved", ACTION_CHECKBOX_NAME: [shortfall.pk]}
    )
    assert AuditEntry.objects.filter(action="shortfall.resolve").count() == 1  # resolved once
