import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.secrets import hash_secret
from billing import services
from billing.models import CreditAccount, LedgerEntry, RedeemCode
from billing.tests.factories import UserFactory


@pytest.fixture
def admin_user(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def batch(admin_user):
    return services.redeem_codes_create(count=3, value_nanos=5_000_000_000, created_by=admin_user)


def _balance(account):
    return CreditAccount.objects.get(pk=account.pk).balance_nanos


def test_codes_are_stored_only_as_hashes(batch):
    assert len(set(batch.codes)) == 3
    stored = set(RedeemCode.objects.values_list("code_hash", flat=True))
    assert stored == {hash_secret(services.redeem_code_normalize(c)) for c in batch.codes}
    assert not any(code in stored for code in batch.codes)


def test_a_code_credits_its_value_once(batch, account):
    entry = services.redeem_code_redeem(account_id=account.pk, code=batch.codes[0])
    assert (entry.kind, entry.amount_nanos) == ("topup", 5_000_000_000)
    with pytest.raises(services.RedeemRefused, match="already been redeemed"):
        services.redeem_code_redeem(account_id=account.pk, code=batch.codes[0])
    assert _balance(account) == 5_000_000_000


def test_a_code_redeemed_by_one_user_is_refused_to_another(batch, account):
    services.redeem_code_redeem(account_id=account.pk, code=batch.codes[0])
    other = services.account_for_user(user=UserFactory())
    with pytest.raises(services.RedeemRefused):
        services.redeem_code_redeem(account_id=other.pk, code=batch.codes[0])
    assert _balance(other) == 0


def test_codes_are_accepted_in_lower_case_and_without_dashes(batch, account):
    services.redeem_code_redeem(
        account_id=account.pk, code=" " + batch.codes[1].lower().replace("-", " ") + " "
    )
    assert _balance(account) == 5_000_000_000


def test_unknown_and_expired_codes_are_refused(admin_user, account):
    expired = services.redeem_codes_create(
        count=1, value_nanos=1, created_by=admin_user, expires_at=timezone.now() - timedelta(minutes=1)
    )
    with pytest.raises(services.RedeemRefused, match="expired"):
        services.redeem_code_redeem(account_id=account.pk, code=expired.codes[0])
    with pytest.raises(services.RedeemRefused, match="not valid"):
        services.redeem_code_redeem(account_id=account.pk, code="PG-NOPE-NOPE")
    with pytest.raises(services.RedeemRefused):
        services.redeem_code_redeem(account_id=account.pk, code="--")
    assert not LedgerEntry.objects.exists()


def test_redeeming_on_the_credits_page_with_htmx_updates_balance_and_history(client, batch, account):
    client.force_login(account.user)
    response = client.post("/credits/redeem/", {"code": batch.codes[0]}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Code redeemed: $5.00 added to your balance." in html
    assert 'id="balances"' in html and 'hx-swap-oob="true"' in html
    assert "$5.00" in html
    again = client.post("/credits/redeem/", {"code": batch.codes[0]}, HTTP_HX_REQUEST="true")
    assert "already been redeemed" in again.content.decode()
    assert _balance(account) == 5_000_000_000


def test_redeeming_without_javascript_redirects_with_a_message(client, batch, account):
    client.force_login(account.user)
    response = client.post("/credits/redeem/", {"code": batch.codes[2]}, follow=True)
    assert response.redirect_chain == [("/credits/", 302)]
    assert "Code redeemed" in response.content.decode()
    response = client.post("/credits/redeem/", {"code": "bogus"}, follow=True)
    assert "This code is not valid." in response.content.decode()


def test_redeem_requires_login(client, batch):
    response = client.post("/credits/redeem/", {"code": batch.codes[0]})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert RedeemCode.objects.filter(redeemed_at__isnull=False).count() == 0


def test_admin_creates_a_batch_and_sees_the_codes_once(client, admin_user, account):
    client.force_login(admin_user)
    response = client.post(
        "/admin/billing/redeemcode/create-batch/", {"count": "4", "value": "2.50", "batch": "promo"}
    )
    html = response.content.decode()
    codes = [line.split(">")[1].split("<")[0] for line in html.split('class="redeem-code"')[1:]]
    assert len(codes) == 4
    assert "data:text/csv;base64," in html
    assert RedeemCode.objects.filter(batch="promo", value_nanos=2_500_000_000).count() == 4
    listing = client.get("/admin/billing/redeemcode/").content.decode()
    assert not any(code in listing for code in codes)
    services.redeem_code_redeem(account_id=account.pk, code=codes[0])
    assert _balance(account) == 2_500_000_000


def test_admin_can_download_a_new_batch_as_csv(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/billing/redeemcode/create-batch/",
        {"count": "2", "value": "1", "batch": "csv", "download": "csv"},
    )
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["value_usd"] for r in rows] == ["1.00", "1.00"]
    assert all(r["code"].startswith("PG-") and r["batch"] == "csv" for r in rows)


def test_non_staff_cannot_create_codes(client, account):
    client.force_login(account.user)
    response = client.post("/admin/billing/redeemcode/create-batch/", {"count": "1", "value": "1"})
    assert response.status_code == 302
    assert not RedeemCode.objects.exists()
