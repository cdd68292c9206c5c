"""An organisation's alerts and webhook are set by its owners and admins; to members and
outsiders the page does not exist (404), for reading or writing."""

import pytest
from django.test import Client

from accounts.organisations.models import Membership
from accounts.organisations.services import member_set, organisation_create
from billing import services
from billing.alerts.models import AlertSettings, WebhookEndpoint
from billing.tests.factories import UserFactory


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def team(db):
    owner, admin, member, outsider = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    org = organisation_create(name="Acme", owner=owner)
    member_set(organisation=org, user=admin, role=Membership.Role.ADMIN, actor=owner)
    member_set(organisation=org, user=member, actor=owner)
    return org, owner, admin, member, outsider


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_members_and_outsiders_get_a_404_and_change_nothing(team, who):
    org, _owner, _admin, member, outsider = team
    client = _client(member if who == "member" else outsider)
    url = f"/orgs/{org.slug}/alerts/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"form": "settings", "low_balance_usd": "1"}).status_code == 404
    assert client.post(url, {"form": "webhook", "url": "https://example.com/hook"}).status_code == 404
    assert not AlertSettings.objects.exclude(low_balance_nanos=None).exists()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_owners_and_admins_set_the_organisations_threshold(team, who):
    org, owner, admin, *_ = team
    client = _client(owner if who == "owner" else admin)
    url = f"/orgs/{org.slug}/alerts/"
    assert "Acme: alerts" in client.get(url).content.decode()
    response = client.post(url, {"form": "settings", "low_balance_usd": "25", "limit_emails": "on"})
    assert (response.status_code, response["Location"]) == (302, url)
    account = services.account_for_organisation(organisation=org)
    assert AlertSettings.objects.get(account=account).low_balance_nanos == 25_000_000_000
    # The personal account of whoever set it is untouched.
    personal = services.account_for_user(user=owner if who == "owner" else admin)
    assert not AlertSettings.objects.filter(account=personal, low_balance_nanos__isnull=False).exists()


def test_an_unknown_organisation_is_a_404(team):
    assert _client(team[1]).get("/orgs/nope/alerts/").status_code == 404


def test_the_personal_alerts_page_links_to_the_organisations_one_for_admins(team):
    org, owner, admin, member, _ = team
    link = f'href="/orgs/{org.slug}/alerts/"'
    assert link in _client(owner).get("/alerts/").content.decode()
    assert link in _client(admin).get("/alerts/").content.decode()
    assert link not in _client(member).get("/alerts/").content.decode()
