"""Django admin lists organisations with their balance, members, roles and spend."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.organisations.models import Membership
from gateway.tests.orgs.world import make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    admin = get_user_model().objects.create_superuser("root", "root@ops.test", "pw-123456789")
    client = Client()
    client.force_login(admin)
    return client


def test_the_organisation_list_shows_balance_members_and_spend(staff):
    world = make_org(credits_nanos=25_000_000_000, name="Acme")
    dev = world.add("dev", limit_nanos=5_000_000_000)
    Membership.objects.filter(user=dev.user).update(usage_nanos=1_230_000_000)  # as billing keeps it

    listing = staff.get("/admin/organisations/organisation/").content.decode()
    page = staff.get(f"/admin/organisations/organisation/{world.organisation.pk}/change/").content.decode()

    assert "Acme" in listing and "$25.00" in listing and "$1.23" in listing
    assert "dev@team.test" in page and "owner@team.test" in page
    assert "$5.00 (total (never resets))" in page and "$1.23" in page


def test_members_are_listed_read_only(staff):
    world = make_org(name="Acme")
    world.add("dev", role="admin")

    listing = staff.get("/admin/organisations/membership/").content.decode()
    assert "dev@team.test" in listing and "Admin" in listing
    assert staff.get("/admin/organisations/membership/add/").status_code == 403


def test_an_operator_finds_an_organisation_s_account_and_grants_it_credits(staff):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    world = make_org(credits_nanos=0, name="Granted Co")
    listing = staff.get("/admin/billing/creditaccount/?q=granted").content.decode()
    assert "Granted Co" in listing

    staff.post(
        "/admin/billing/creditaccount/",
        {
            "action": "grant_credits",
            ACTION_CHECKBOX_NAME: [world.account.pk],
            "amount": "0.000000007",
            "memo": "launch credit",
            "apply": "Grant",
        },
    )

    assert world.balance() == 7
