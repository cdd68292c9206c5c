"""An organisation's audit log is its owners': admins, members and outsiders get a 404,
as for an organisation that does not exist. It holds the organisation's changes only."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.organisations.models import Membership
from accounts.organisations.services import member_set, organisation_create
from accounts.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def _user(name: str):
    return get_user_model().objects.create_user(name, f"{name}@example.com", "pw")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def team():
    owner, admin, member, outsider = _user("owner"), _user("admin"), _user("member"), _user("outsider")
    org = organisation_create(name="Acme", owner=owner)
    member_set(organisation=org, user=admin, role=Membership.Role.ADMIN, actor=owner)
    member_set(organisation=org, user=member, limit_nanos=5_000_000_000, actor=admin)
    key, _ = api_key_create(user=member, name="acme laptop", organisation_id=org.pk)
    api_key_revoke(key=key, actor=admin)
    api_key_create(user=owner, name="owner personal")
    return org, owner, admin, member, outsider


@pytest.mark.parametrize("who", ["admin", "member", "outsider"])
@pytest.mark.parametrize("suffix", ["", "export.csv"])
def test_only_owners_reach_the_organisations_log(team, who, suffix):
    org, owner, admin, member, outsider = team
    user = {"admin": admin, "member": member, "outsider": outsider}[who]
    assert _client(user).get(f"/orgs/{org.slug}/audit-log/{suffix}").status_code == 404
    assert _client(owner).get(f"/orgs/{org.slug}/audit-log/{suffix}").status_code == 200
    assert _client(owner).get(f"/orgs/no-such-org/audit-log/{suffix}").status_code == 404
    assert Client().get(f"/orgs/{org.slug}/audit-log/{suffix}").status_code == 302  # to sign in


def test_the_owner_sees_each_step_and_nothing_personal(team):
    org, owner, _admin, _member, _ = team
    html = _client(owner).get(f"/orgs/{org.slug}/audit-log/").content.decode()
    for text in (
        "organisation.create",
        "member.add",
        "key.create",
        "key.revoke",
        "acme laptop",
        "admin@example.com",
    ):
        assert text in html, text
    assert "owner personal" not in html
    rows = list(
        csv.DictReader(
            io.StringIO(
                b"".join(
                    _client(owner).get(f"/orgs/{org.slug}/audit-log/export.csv").streaming_content
                ).decode()
            )
        )
    )
    assert {r["organisation_id"] for r in rows} == {str(org.pk)}
    revoke = next(r for r in rows if r["action"] == "key.revoke")
    assert revoke["actor"] == "admin@example.com"


def test_the_organisations_entries_stay_out_of_personal_logs(team):
    _org, owner, _admin, member, _ = team
    personal = _client(member).get("/audit-log/").content.decode()
    assert "acme laptop" not in personal
    assert "owner personal" in _client(owner).get("/audit-log/").content.decode()


def test_filters_work_on_the_organisations_log(team):
    org, owner, *_ = team
    html = _client(owner).get(f"/orgs/{org.slug}/audit-log/", {"action": "key.revoke"}).content.decode()
    assert "key.revoke" in html and "organisation.create</code>" not in html


def test_an_owners_personal_log_links_to_their_organisations_log(team):
    org, owner, admin, *_ = team
    link = f'href="/orgs/{org.slug}/audit-log/"'
    assert link in _client(owner).get("/audit-log/").content.decode()
    assert link not in _client(admin).get("/audit-log/").content.decode()


def test_an_operator_changing_the_default_budget_in_admin_is_in_the_organisations_log(team):
    org, owner, *_ = team
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    count = org.memberships.count()
    form = {
        "name": org.name,
        "allowed_models": "[]",
        "default_limit_nanos": "2000000000",
        "default_limit_reset": "monthly",
        "memberships-TOTAL_FORMS": str(count),
        "memberships-INITIAL_FORMS": str(count),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, membership in enumerate(org.memberships.order_by("joined_at", "pk")):
        form |= {f"memberships-{i}-id": str(membership.pk), f"memberships-{i}-organisation": str(org.pk)}
    response = _client(root).post(f"/admin/organisations/organisation/{org.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    html = _client(owner).get(f"/orgs/{org.slug}/audit-log/", {"action": "organisations.organisation.change"})
    assert "root@example.com" in html.content.decode()
    from accounts.audit_log.models import AuditEntry

    entry = AuditEntry.objects.get(action="organisations.organisation.change")
    assert entry.organisation_id == org.pk
    assert entry.new == {"default_limit_nanos": 2_000_000_000, "default_limit_reset": "monthly"}


def test_the_organisation_page_links_owners_to_its_log_and_admins_to_its_alerts(team):
    org, owner, admin, member, _ = team
    log, alerts = f'href="/orgs/{org.slug}/audit-log/"', f'href="/orgs/{org.slug}/alerts/"'
    page = {
        who: _client(user).get(f"/orgs/{org.slug}/").content.decode()
        for who, user in (("owner", owner), ("admin", admin), ("member", member))
    }
    assert log in page["owner"] and alerts in page["owner"]
    assert log not in page["admin"] and alerts in page["admin"]
    assert log not in page["member"] and alerts not in page["member"]


def test_an_admins_management_key_changing_a_members_key_is_the_admins_doing(team):
    from accounts.audit_log.models import AuditEntry
    from accounts.models import ApiKey

    org, _owner, admin, member, _ = team
    _, mgmt = api_key_create(
        user=admin, name="admin mgmt", kind=ApiKey.Kind.MANAGEMENT, organisation_id=org.pk
    )
    key, _ = api_key_create(user=member, name="member ci", organisation_id=org.pk)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {mgmt}"}
    response = Client().patch(f"/api/v1/keys/{key.pk}", {"limit": 2}, content_type="application/json", **auth)
    assert response.status_code == 200, response.content
    assert Client().delete(f"/api/v1/keys/{key.pk}", **auth).status_code == 200
    for action in ("key.update", "key.revoke"):
        entry = AuditEntry.objects.get(action=action, target_id=str(key.pk))
        assert (entry.actor, entry.owner, entry.organisation_id) == (admin, member, org.pk)


def test_keys_revoked_by_removing_a_member_are_the_removers_doing(team):
    from accounts.audit_log.models import AuditEntry
    from accounts.organisations.services import member_remove

    org, _owner, admin, member, _ = team
    key, _ = api_key_create(user=member, name="member ci", organisation_id=org.pk)
    member_remove(organisation=org, user=member, actor=admin)
    entry = AuditEntry.objects.get(action="key.revoke", target_id=str(key.pk))
    assert entry.actor == admin
    other, _ = api_key_create(user=admin, name="admin ci", organisation_id=org.pk)
    member_remove(organisation=org, user=admin, actor=None)  # an operator's command
    assert AuditEntry.objects.get(action="key.revoke", target_id=str(other.pk)).actor_repr == "system"
