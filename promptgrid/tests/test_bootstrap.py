import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from accounts.keyauth import authenticate as authenticate_key
from accounts.models import ApiKey
from billing.models import CreditAccount, LedgerEntry
from catalog.models import Model

EMAIL = "demo@promptgrid.local"


def _bootstrap(*args: str) -> str:
    out = StringIO()
    call_command("bootstrap", *args, stdout=out)
    return out.getvalue()


def _field(output: str, label: str) -> str:
    match = re.search(rf"^\s*{label}:\s+(\S.*)$", output, re.MULTILINE)
    assert match, f"{label} missing from:\n{output}"
    return match.group(1).strip()


@pytest.mark.django_db(transaction=True)
def test_bootstrap_prints_a_working_login_key_and_curl():
    output = _bootstrap()

    assert _field(output, "Email") == EMAIL
    password = _field(output, "Password")
    secret = _field(output, "API key")
    assert _field(output, "Credits") == "$10.00"
    user = authenticate(username="demo", password=password)
    assert user is not None and user.email == EMAIL
    assert authenticate_key(secret).user_id == user.pk
    assert f'-H "Authorization: Bearer {secret}"' in output
    assert "http://127.0.0.1:8000/api/v1/chat/completions" in output
    assert '"model": "mock/echo"' in output
    assert Model.objects.filter(slug="mock/echo").exists()  # the catalog was seeded


@pytest.mark.django_db(transaction=True)
def test_bootstrap_again_keeps_user_and_credits_but_makes_a_new_key():
    first = _bootstrap()
    second = _bootstrap()

    assert get_user_model().objects.filter(email=EMAIL).count() == 1
    account = CreditAccount.objects.get(user__email=EMAIL)
    assert account.balance_nanos == 10_000_000_000
    assert LedgerEntry.objects.filter(account=account).count() == 1
    assert ApiKey.objects.filter(user__email=EMAIL, name="demo").count() == 2
    assert _field(first, "API key") != _field(second, "API key")
    # The password cannot be shown twice: it is not stored.
    assert "unchanged" in _field(second, "Password")
    assert authenticate(username="demo", password=_field(first, "Password")) is not None


@pytest.mark.django_db(transaction=True)
def test_reset_password_prints_a_new_working_password():
    first = _field(_bootstrap(), "Password")
    second = _field(_bootstrap("--reset-password"), "Password")
    assert second != first
    assert authenticate(username="demo", password=second) is not None
    assert authenticate(username="demo", password=first) is None
