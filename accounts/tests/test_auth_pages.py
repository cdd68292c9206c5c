"""Sign up, sign in by email, sign out, password change and reset, verification, social buttons."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.tests.conftest import PASSWORD

NEW_PASSWORD = "n3w-Passw0rd!x"


def _signup(client: Client, email: str = "new@example.com"):
    return client.post(
        "/accounts/signup/", {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )


def test_auth_pages_use_the_product_layout(db):
    for url in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        page = Client().get(url).content.decode()
        assert "/static/css/app.css" in page and 'class="brand"' in page, url
        assert 'class="card auth-card"' in page and 'class="field' in page and "btn btn-primary" in page


def test_signup_creates_a_user_and_signs_them_in(client, db):
    response = _signup(client)
    assert response.status_code == 302
    user = get_user_model().objects.get(email="new@example.com")
    assert user.check_password(NEW_PASSWORD)
    assert client.get("/keys/").status_code == 200


def test_signup_refuses_an_email_already_registered(client, user):
    response = _signup(client, email="alice@example.com")
    assert response.status_code == 200
    assert get_user_model().objects.filter(email__iexact="alice@example.com").count() == 1


def test_login_by_email_and_logout(client, user):
    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/keys/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/keys/").status_code == 302


def test_login_with_a_wrong_password_is_refused(client, user):
    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": "wrong"})
    assert response.status_code == 200
    assert "alert alert-error" in response.content.decode()
    assert client.get("/keys/").status_code == 302


def test_password_change(client_a, user):
    response = client_a.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_by_email_link(client, user, mailoutbox):
    client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert len(mailoutbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mailoutbox[0].body).group(1)
    form_url = client.get(link).url  # allauth moves the key into the session first
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_mandatory_verification_holds_sign_in_until_the_email_is_confirmed(client, db, settings, mailoutbox):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = _signup(client)
    assert response.status_code == 302 and "confirm-email" in response["Location"]
    assert client.get("/keys/").status_code == 302  # not signed in yet
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+)", mailoutbox[-1].body).group(1)
    client.post(link)
    response = client.post("/accounts/login/", {"login": "new@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.get("/keys/").status_code == 200


def test_settings_turn_verification_on_when_an_email_backend_is_configured():
    import importlib
    import os
    from unittest import mock

    import promptgrid.settings as real

    with mock.patch.dict(os.environ, {"EMAIL_URL": "smtp://mail.example.com:587"}):
        configured = importlib.reload(real)
        assert configured.ACCOUNT_EMAIL_VERIFICATION == "mandatory"
        assert configured.EMAIL_HOST == "mail.example.com"
    plain = importlib.reload(real)
    assert plain.ACCOUNT_EMAIL_VERIFICATION != "mandatory"
    assert plain.EMAIL_BACKEND.endswith("console.EmailBackend")


def test_social_login_buttons_are_hidden_without_client_credentials(db, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    page = Client().get("/accounts/login/").content.decode()
    assert "GitHub" not in page and "Google" not in page


@pytest.mark.parametrize(("provider", "label"), [("github", "GitHub"), ("google", "Google")])
def test_social_login_button_shows_when_client_credentials_are_set(db, settings, provider, label):
    settings.SOCIALACCOUNT_PROVIDERS = {provider: {"APPS": [{"client_id": "id", "secret": "s", "key": ""}]}}
    page = Client().get("/accounts/login/").content.decode()
    assert f"Continue with {label}" in page and f"/accounts/{provider}/login/" in page
    other = "Google" if label == "GitHub" else "GitHub"
    assert f"Continue with {other}" not in page


def test_signing_up_opens_a_credit_account_with_the_signup_grant(client, db, settings):
    from decimal import Decimal

    from billing.models import CreditAccount

    settings.SIGNUP_CREDITS = Decimal("1.50")
    _signup(client)
    account = CreditAccount.objects.get(user__email="new@example.com")
    assert account.balance_nanos == 1_500_000_000


def test_signed_in_account_pages_use_the_product_layout(client_a):
    for url in ("/accounts/email/", "/accounts/password/change/", "/accounts/logout/"):
        response = client_a.get(url)
        page = response.content.decode()
        assert response.status_code == 200, url
        assert "/static/css/app.css" in page and 'href="/keys/"' in page and "btn btn-" in page, url
