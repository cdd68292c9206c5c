"""Failed sign-ins are throttled per client address and per (email, address), on the site's
form and on the admin's, which is the same form. A stranger cannot lock an email's owner out."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.tests.conftest import PASSWORD
from accounts.tests.factories import UserFactory

TOO_MANY = "Too many failed login attempts"
STRANGER, OWNER = "203.0.113.7", "198.51.100.20"


def _login(ip: str, email: str, password: str, client: Client | None = None, next_url: str = ""):
    client = client or Client(REMOTE_ADDR=ip)
    url = "/accounts/login/" + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"login": email, "password": password}), client


def _refused(response) -> bool:
    return response.status_code in (200, 429) and "_auth_user_id" not in response.wsgi_request.session


def _throttled(response) -> bool:
    return response.status_code == 429 or TOO_MANY in response.content.decode()


def test_five_failures_for_an_email_from_one_address_refuse_even_the_right_password_there(user):
    for _ in range(5):
        response, _c = _login(STRANGER, user.email, "wrong-guess")
        assert _refused(response) and not _throttled(response)
    response, _c = _login(STRANGER, user.email, PASSWORD)
    assert _refused(response) and _throttled(response)


def test_a_strangers_failures_do_not_lock_the_owner_out(user):
    for _ in range(6):
        _login(STRANGER, user.email, "wrong-guess")
    response, client = _login(OWNER, user.email, PASSWORD)
    assert response.status_code == 302
    assert client.get("/keys/").status_code == 200


def test_with_allauths_per_email_key_the_owner_would_be_locked_out(user, settings):
    """The protection off: allauth's default adapter counts every caller against the email."""
    settings.ACCOUNT_ADAPTER = "allauth.account.adapter.DefaultAccountAdapter"
    for _ in range(5):
        _login(STRANGER, user.email, "wrong-guess")
    response, _c = _login(OWNER, user.email, PASSWORD)
    assert _refused(response) and _throttled(response)


def test_one_address_guessing_across_emails_is_throttled_after_ten_a_minute(db):
    emails = [UserFactory(email=f"user{i}@example.com").email for i in range(11)]
    for email in emails[:10]:
        response, _c = _login(STRANGER, email, "wrong-guess")
        assert not _throttled(response)
    response, _c = _login(STRANGER, emails[10], PASSWORD)
    assert _refused(response) and _throttled(response)
    # Another address is not affected.
    response, _c = _login(OWNER, emails[10], PASSWORD)
    assert response.status_code == 302


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("op", "op@example.com", PASSWORD)


def test_the_admin_signs_in_through_the_throttled_form(operator):
    client = Client(REMOTE_ADDR=OWNER)
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    # Django's own admin form is not reachable: posting to it changes nothing.
    client.post("/admin/login/?next=/admin/", {"username": "op", "password": PASSWORD})
    assert client.get("/admin/").status_code == 302
    response, client = _login(OWNER, operator.email, PASSWORD, client=client, next_url="/admin/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200


def test_admin_password_guessing_is_throttled(operator):
    for _ in range(5):
        _login(STRANGER, operator.email, "wrong-guess", next_url="/admin/")
    response, client = _login(STRANGER, operator.email, PASSWORD, next_url="/admin/")
    assert _refused(response) and _throttled(response)
    assert client.get("/admin/").status_code == 302


def test_a_signed_in_user_who_is_not_staff_is_refused_the_admin(user):
    response, client = _login(OWNER, user.email, PASSWORD)
    assert response.status_code == 302
    assert client.get("/admin/login/").status_code == 403
    assert client.get("/admin/").status_code == 302
