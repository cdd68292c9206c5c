from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import ApiKey
from accounts.tests.conftest import bearer


def _run(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_creates_the_user_without_a_usable_password_and_prints_the_secret_last(db):
    lines = _run("--email", "New@Example.com", "--name", "bench")
    secret = lines[-1]
    assert secret.startswith("pg-v1-") and " " not in secret
    user = get_user_model().objects.get(email="new@example.com")
    assert not user.has_usable_password()
    key = ApiKey.objects.get(user=user)
    assert key.name == "bench" and key.kind == "standard"
    assert Client().get("/api/v1/key", **bearer(secret)).status_code == 200


def test_grants_credits_through_the_ledger_once(db):
    from billing.models import CreditAccount, LedgerEntry

    _run("--email", "rich@example.com", "--credits", "12.50")
    account = CreditAccount.objects.get(user__email="rich@example.com")
    assert account.balance_nanos == 12_500_000_000
    entries = list(LedgerEntry.objects.filter(account=account))
    assert [(e.kind, e.amount_nanos) for e in entries] == [("grant", 12_500_000_000)]


def test_second_run_reuses_the_user_and_makes_another_key(db):
    first = _run("--email", "same@example.com")[-1]
    second = _run("--email", "same@example.com", "--name", "second")[-1]
    assert first != second
    user = get_user_model().objects.get(email="same@example.com")
    assert user.api_keys.count() == 2
    assert get_user_model().objects.filter(email="same@example.com").count() == 1


def test_without_credits_the_account_exists_and_is_empty(db):
    from billing.models import CreditAccount

    _run("--email", "poor@example.com")
    assert CreditAccount.objects.get(user__email="poor@example.com").balance_nanos == 0


def test_password_lets_the_new_user_sign_in_by_email(db):
    _run("--email", "pw@example.com", "--password", "s3cret-Passw0rd")
    response = Client().post("/accounts/login/", {"login": "pw@example.com", "password": "s3cret-Passw0rd"})
    assert response.status_code == 302 and "/accounts/login/" not in response["Location"]


def test_management_flag_makes_a_management_key(db):
    secret = _run("--email", "ops@example.com", "--management")[-1]
    assert Client().get("/api/v1/keys", **bearer(secret)).status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email"], "not an email"),
        (["--email", "a@example.com", "--credits", "lots"], "USD"),
    ],
)
def test_bad_arguments_fail_clearly_and_create_nothing(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", *args, stdout=StringIO(), stderr=StringIO())
    assert not ApiKey.objects.exists()
