"""A user reads their own log in the dashboard and exports it; operators export everything
from admin, filtered; cells a spreadsheet would run are neutralised."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.audit_log import record
from accounts.audit_log.models import AuditEntry
from accounts.services import api_key_create

pytestmark = pytest.mark.django_db


def _user(name: str, **extra):
    return get_user_model().objects.create_user(name, f"{name}@example.com", "pw", **extra)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def alice():
    user = _user("alice")
    api_key_create(user=user, name="alice ci")
    return user


@pytest.fixture
def bob():
    user = _user("bob")
    api_key_create(user=user, name='=HYPERLINK("http://evil")')
    return user


def test_the_page_shows_my_entries_and_never_someone_elses(alice, bob):
    page = _client(alice).get("/audit-log/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "alice ci" in html and "key.create" in html
    assert "HYPERLINK" not in html


def test_the_page_needs_a_login(db):
    response = Client().get("/audit-log/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Client().get("/audit-log/export.csv").status_code == 302


def test_filters_narrow_the_page_and_the_export(alice):
    key, _ = api_key_create(user=alice, name="second")
    from accounts.services import api_key_revoke

    api_key_revoke(key=key)
    client = _client(alice)
    html = client.get("/audit-log/", {"action": "key.revoke"}).content.decode()
    assert "second" in html and "alice ci" not in html
    rows = _csv(client.get("/audit-log/export.csv", {"action": "key.revoke"}))
    assert [r["action"] for r in rows] == ["key.revoke"]
    assert rows[0]["actor"] == "alice@example.com" and '"revoked_at"' in rows[0]["new"]


def test_a_bad_date_range_is_explained_not_a_500(alice):
    response = _client(alice).get("/audit-log/", {"date_from": "2026-02-10", "date_to": "2026-02-01"})
    assert response.status_code == 200
    assert "The end date is before the start date." in response.content.decode()
    response = _client(alice).get("/audit-log/", {"date_from": "yesterday"})
    assert response.status_code == 200 and "Enter a valid date." in response.content.decode()


def test_the_export_neutralises_formulas(bob):
    rows = _csv(_client(bob).get("/audit-log/export.csv"))
    assert rows[0]["target"].startswith("'=HYPERLINK")


def test_operators_export_everything_filtered_by_actor_action_and_dates(alice, bob):
    root = _user("root", is_staff=True, is_superuser=True)
    record(actor=root, action="credits.grant", target=("billing.creditaccount", "1", "acct"))
    operator = _client(root)
    assert "Export CSV" in operator.get("/admin/audit_log/auditentry/").content.decode()
    form_page = operator.get("/admin/audit_log/auditentry/export/")
    assert form_page.status_code == 200 and 'name="actor"' in form_page.content.decode()

    everything = _csv(operator.get("/admin/audit_log/auditentry/export/", {"download": "1"}))
    assert {r["actor"] for r in everything} == {"alice@example.com", "bob@example.com", "root@example.com"}
    by_actor = _csv(operator.get("/admin/audit_log/auditentry/export/", {"download": "1", "actor": "bob"}))
    assert [r["actor"] for r in by_actor] == ["bob@example.com"]
    by_action = _csv(
        operator.get("/admin/audit_log/auditentry/export/", {"download": "1", "action": "credits.grant"})
    )
    assert [r["actor"] for r in by_action] == ["root@example.com"]
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    later = _csv(
        operator.get("/admin/audit_log/auditentry/export/", {"download": "1", "date_from": tomorrow})
    )
    assert later == []


def test_only_staff_with_view_permission_can_export(alice):
    response = _client(alice).get("/admin/audit_log/auditentry/export/", {"download": "1"})
    assert response.status_code == 302  # to the admin login
    staff = _user("staff", is_staff=True)
    assert _client(staff).get("/admin/audit_log/auditentry/export/", {"download": "1"}).status_code == 403


def test_the_admin_is_read_only(alice):
    root = _user("root", is_staff=True, is_superuser=True)
    entry = AuditEntry.objects.first()
    operator = _client(root)
    assert operator.get(f"/admin/audit_log/auditentry/{entry.pk}/change/").status_code == 200
    assert (
        operator.post(f"/admin/audit_log/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert operator.get("/admin/audit_log/auditentry/add/").status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
