"""Key creation, limit changes, disabling and revocation are in the audit log, by whom,
whether done on the keys page, through the keys API or by an operator in admin."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.audit_log.models import AuditEntry
from accounts.models import ApiKey
from accounts.services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return get_user_model().objects.create_user("owner", "owner@example.com", "pw")


@pytest.fixture
def browser(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def _entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


def test_a_key_made_on_the_keys_page_is_logged_without_its_secret(browser, owner):
    response = browser.post("/keys/new/", {"name": "ci", "limit_usd": "5", "limit_reset": "monthly"})
    assert response.status_code == 200
    key = ApiKey.objects.get(name="ci")
    [entry] = _entries("key.create")
    assert (entry.actor, entry.owner, entry.target_id) == (owner, owner, str(key.pk))
    assert entry.new["limit_nanos"] == 5_000_000_000 and entry.new["limit_reset"] == "monthly"
    secret = response.context["secret"]
    assert secret not in str(entry.new) and key.secret_hash not in str(entry.new)


def test_a_limit_change_logs_only_what_changed_old_and_new(browser, owner):
    key, _ = api_key_create(user=owner, name="ci", limit_nanos=1_000_000_000)
    form = {"name": "ci", "limit_usd": "2.5", "limit_reset": "never"}
    assert browser.post(f"/keys/{key.pk}/edit/", form).status_code == 302
    [entry] = _entries("key.update")
    assert entry.old == {"limit_nanos": 1_000_000_000}
    assert entry.new == {"limit_nanos": 2_500_000_000}
    # Saving the same values again changes nothing and logs nothing.
    browser.post(f"/keys/{key.pk}/edit/", form)
    assert len(_entries("key.update")) == 1


def test_the_keys_api_logs_its_changes_as_the_management_keys_owner(owner):
    _, mgmt = api_key_create(user=owner, name="mgmt", kind=ApiKey.Kind.MANAGEMENT)
    key, _ = api_key_create(user=owner, name="svc")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {mgmt}"}
    response = Client().patch(
        f"/api/v1/keys/{key.pk}",
        {"limit": 3, "limit_reset": "daily"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200
    [entry] = _entries("key.update")
    assert entry.actor == owner
    assert entry.new == {"limit_nanos": 3_000_000_000, "limit_reset": "daily"}
    assert entry.request_id == response["x-request-id"]
    assert Client().delete(f"/api/v1/keys/{key.pk}", **auth).status_code == 200
    assert _entries("key.revoke")[0].target_id == str(key.pk)


def test_disable_enable_and_revoke_on_the_page_each_leave_one_entry(browser, owner):
    key, _ = api_key_create(user=owner, name="ci")
    browser.post(f"/keys/{key.pk}/disable/")
    browser.post(f"/keys/{key.pk}/enable/")
    browser.post(f"/keys/{key.pk}/revoke/")
    browser.post(f"/keys/{key.pk}/revoke/")  # a second revoke changes nothing
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "old", "new"))
    assert [a for a, _, _ in actions] == ["key.create", "key.disable", "key.enable", "key.revoke"]
    assert actions[1][1:] == ({"disabled": False}, {"disabled": True})


def test_an_operator_revoking_in_admin_is_the_actor_and_the_owner_still_sees_it(owner):
    key, _ = api_key_create(user=owner, name="ci")
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    operator = Client()
    operator.force_login(root)
    response = operator.post(
        "/admin/accounts/apikey/", {"action": "revoke_keys", "_selected_action": [str(key.pk)]}
    )
    assert response.status_code == 302
    [entry] = _entries("key.revoke")
    assert (entry.actor, entry.actor_repr, entry.owner) == (root, "root@example.com", owner)


def test_playground_keys_come_and_go_with_sessions_and_are_not_logged(owner):
    api_key_create(user=owner, name="playground", kind=ApiKey.Kind.PLAYGROUND)
    assert not AuditEntry.objects.exists()


def test_a_users_rate_limit_changed_in_admin_is_logged(owner):
    from accounts.models import UserSettings

    prefs = UserSettings.objects.create(user=owner)
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    operator = Client()
    operator.force_login(root)
    form = {"user": str(owner.pk), "log_prompts": "", "log_retention_days": "30", "rpm_limit": "60"}
    response = operator.post(f"/admin/accounts/usersettings/{prefs.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:1000]
    [entry] = _entries("accounts.usersettings.change")
    assert (entry.old, entry.new, entry.owner) == ({"rpm_limit": None}, {"rpm_limit": 60}, owner)
