from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ApiKey, UserSettings
from accounts.tests.conftest import bearer
from accounts.tests.factories import UserFactory, make_key


@pytest.fixture
def admin_client(db) -> Client:
    staff = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client


def test_keys_are_listed_without_secrets_and_cannot_be_added(admin_client, user):
    key, secret = make_key(user, name="listed")
    page = admin_client.get("/admin/accounts/apikey/").content.decode()
    assert "listed" in page and key.masked in page and secret not in page
    assert admin_client.get("/admin/accounts/apikey/add/").status_code == 403
    detail = admin_client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    assert secret not in detail and 'name="name"' not in detail  # read-only


@pytest.mark.parametrize(("action", "status"), [("revoke_keys", "revoked"), ("disable_keys", "disabled")])
def test_admin_actions_stop_a_key_at_once(admin_client, client, user, long_key_cache, action, status):
    key, secret = make_key(user)
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 200
    admin_client.post("/admin/accounts/apikey/", {"action": action, "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.status == status
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 401


def test_enable_action_does_not_bring_back_a_revoked_key(admin_client, user):
    key, _ = make_key(user)
    ApiKey.objects.filter(pk=key.pk).update(disabled=True)
    admin_client.post("/admin/accounts/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})
    admin_client.post("/admin/accounts/apikey/", {"action": "enable_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.status == "revoked"


def test_operator_sets_a_per_user_rate_limit(admin_client, user, long_key_cache):
    from accounts import keyauth

    _, secret = make_key(user)
    prefs = UserSettings.objects.create(user=user)
    assert keyauth.authenticate(secret).user_rpm_limit is None
    response = admin_client.post(
        f"/admin/accounts/usersettings/{prefs.pk}/change/",
        {"user": user.pk, "log_retention_days": 30, "rpm_limit": 12},
    )
    assert response.status_code == 302
    assert keyauth.authenticate(secret).user_rpm_limit == 12
