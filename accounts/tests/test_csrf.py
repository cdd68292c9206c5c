"""Every form (and every session write to the API) refuses a request without a CSRF token."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.conftest import PASSWORD
from accounts.tests.factories import make_key

FORMS = [
    ("/keys/new/", {"name": "x", "limit_reset": "never"}),
    ("/keys/{id}/edit/", {"name": "x", "limit_reset": "never"}),
    ("/keys/{id}/disable/", {}),
    ("/keys/{id}/enable/", {}),
    ("/keys/{id}/revoke/", {}),
    ("/settings/", {"log_prompts": "on", "log_retention_days": "7"}),
    ("/accounts/logout/", {}),
    (
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "n3w-Passw0rd!x", "password2": "n3w-Passw0rd!x"},
    ),
    ("/accounts/email/", {"action_add": "", "email": "new@example.com"}),
]


@pytest.fixture
def csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _token(client: Client, page: str) -> str:
    html = client.get(page).content.decode()
    return html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(("url", "data"), FORMS)
def test_signed_in_forms_refuse_posts_without_csrf_token(csrf_client, user, url, data):
    key, _ = make_key(user)
    before = (key.name, key.disabled, key.revoked_at)
    response = csrf_client.post(url.format(id=key.pk), data)
    assert response.status_code == 403
    key.refresh_from_db()
    assert (key.name, key.disabled, key.revoked_at) == before
    assert user.api_keys.count() == 1


def test_a_form_with_its_token_goes_through(csrf_client, user):
    token = _token(csrf_client, "/keys/new/")
    response = csrf_client.post(
        "/keys/new/", {"name": "ok", "limit_reset": "never", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 200 and user.api_keys.filter(name="ok").exists()


def test_htmx_requests_send_the_token_from_the_body_header(csrf_client, user):
    page = csrf_client.get("/keys/").content.decode()
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    key, _ = make_key(user)
    response = csrf_client.post(f"/keys/{key.pk}/disable/", HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD}),
        (
            "/accounts/signup/",
            {"email": "new@example.com", "password1": "n3w-Passw0rd!x", "password2": "n3w-Passw0rd!x"},
        ),
        ("/accounts/password/reset/", {"email": "alice@example.com"}),
    ],
)
def test_anonymous_forms_refuse_posts_without_csrf_token(user, url, data):
    response = Client(enforce_csrf_checks=True).post(url, data)
    assert response.status_code == 403


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_session_writes_to_the_keys_api_need_csrf(csrf_client, user, method):
    key, _ = make_key(user)
    url = "/api/v1/keys" if method == "post" else f"/api/v1/keys/{key.pk}"
    response = getattr(csrf_client, method)(url, {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None and key.name == "test key"
