"""An organisation's alerts: its low balance goes to its owners and admins, a member's
budget and an organisation key's limit to the member and the admins; its webhook gets
the events. Once per crossing, as for a personal account."""

import json

import pytest
from django.core import mail

from accounts.organisations.models import Membership
from accounts.organisations.services import member_set, organisation_create
from accounts.services import api_key_create
from billing import services
from billing.alerts.delivery import webhooks_deliver
from billing.alerts.services import alert_settings_update, webhook_set
from billing.alerts.tests import receiver as local
from billing.alerts.tests.helpers import spend
from billing.tests.factories import UserFactory
from promptgrid.money import usd_to_nanos

USD = usd_to_nanos("1")


@pytest.fixture
def team(db):
    owner, admin, member = UserFactory(), UserFactory(), UserFactory()
    org = organisation_create(name="Acme", owner=owner)
    member_set(organisation=org, user=admin, role=Membership.Role.ADMIN, actor=owner)
    member_set(organisation=org, user=member, limit_nanos=USD, limit_reset="monthly", actor=owner)
    account = services.account_for_organisation(organisation=org)
    services.credits_grant(account=account, amount_nanos=10 * USD)
    return org, account, owner, admin, member


def _recipients() -> list[set[str]]:
    return [set(message.to) for message in mail.outbox]


def test_a_low_organisation_balance_goes_to_owners_and_admins(team, scan):
    org, account, owner, admin, _member = team
    alert_settings_update(account=account, low_balance_nanos=5 * USD, limit_emails=True, actor=owner)
    key, _ = api_key_create(user=owner, name="ops", organisation_id=org.pk)
    spend(account, 6 * USD, key)
    scan()
    scan()
    assert _recipients() == [{owner.email, admin.email}]


def test_a_members_budget_goes_to_them_and_the_admins_at_80_and_100(team, scan):
    org, account, owner, admin, member = team
    key, _ = api_key_create(user=member, name="laptop", organisation_id=org.pk)
    spend(account, USD * 8 // 10, key)
    scan()
    scan()
    spend(account, USD * 2 // 10, key)
    scan()
    budget = [m for m in mail.outbox if "budget" in m.subject]
    assert [m.subject for m in budget] == [
        f"PromptGrid: {member.email} has used 80% of their budget in Acme",
        f"PromptGrid: {member.email} has reached their budget in Acme",
    ]
    assert all(set(m.to) == {owner.email, admin.email, member.email} for m in budget)


def test_an_organisation_keys_limit_goes_to_its_member_and_the_admins(team, scan):
    org, account, owner, admin, member = team
    key, _ = api_key_create(user=member, name="ci", organisation_id=org.pk, limit_nanos=USD // 2)
    spend(account, USD // 2, key)
    scan()
    key_mails = [m for m in mail.outbox if "key" in m.subject]
    assert len(key_mails) == 1 and set(key_mails[0].to) == {owner.email, admin.email, member.email}


def test_the_organisations_webhook_gets_the_member_budget_event(team, scan, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    org, account, owner, _admin, member = team
    hook, server = local.start()
    try:
        webhook_set(account=account, url=hook.url, actor=owner)
        key, _ = api_key_create(user=member, name="laptop", organisation_id=org.pk)
        spend(account, USD, key)
        scan()
        webhooks_deliver()
    finally:
        server.shutdown()
        server.server_close()
    events = [json.loads(r.body) for r in hook.received]
    budget = [e for e in events if e["type"] == "member.budget"]
    assert len(budget) == 1
    assert budget[0]["data"]["member_email"] == member.email and budget[0]["data"]["level"] == 100
    # The member's personal account has no webhook and got nothing.
    assert {e["type"] for e in events} <= {"member.budget", "key.limit"}
