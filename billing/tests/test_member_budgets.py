"""A member's budget in the hold statement, on both paths (PostgreSQL's function, SQLite's ORM)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.organisations import services as orgs
from accounts.organisations.models import Membership
from accounts.services import api_key_create
from billing import services
from billing.audit import ledger_audit
from billing.models import CreditAccount, Generation, Hold

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team():
    users = get_user_model().objects
    organisation = orgs.organisation_create(
        name="Acme", owner=users.create_user("o", "o@t.test", "pw-123456789")
    )
    account = services.account_for_organisation(organisation=organisation)
    services.credits_grant(account=account, amount_nanos=10_000)
    dev = users.create_user("d", "d@t.test", "pw-123456789")
    orgs.member_set(organisation=organisation, user=dev, limit_nanos=1_000)
    key, _ = api_key_create(user=dev, name="k", organisation_id=organisation.pk)
    return account, key, Membership.objects.get(user=dev)


def _hold(account, key, amount):
    return services.hold_place(account_id=account.pk, amount_nanos=amount, ttl_seconds=60, api_key_id=key.pk)


def test_a_hold_past_the_member_budget_is_refused_and_takes_nothing(team):
    account, key, member = team
    _hold(account, key, 600)

    with pytest.raises(services.MemberBudgetReached, match="budget"):
        _hold(account, key, 401)

    account.refresh_from_db(), key.refresh_from_db(), member.refresh_from_db()
    assert account.held_nanos == key.held_nanos == member.held_nanos == 600
    _hold(account, key, 400)  # exactly the rest fits
    assert ledger_audit() == []


def test_settling_counts_the_charge_against_the_member_and_releases_the_rest(team):
    account, key, member = team
    hold = _hold(account, key, 900)
    generation = Generation(
        id="gen-m-1", user_id=key.user_id, api_key=key, model_slug="mock/echo", status="success",
        cost_nanos=250, created_at=timezone.now(),
    )  # fmt: skip

    services.generation_settle(generation=generation, hold_id=hold.id, cost_nanos=250)

    member.refresh_from_db()
    assert (member.usage_nanos, member.period_usage_nanos, member.held_nanos) == (250, 250, 0)
    with pytest.raises(services.MemberBudgetReached):
        _hold(account, key, 751)
    assert ledger_audit() == []


def test_a_daily_budget_starts_over_the_next_day(team):
    account, key, member = team
    Membership.objects.filter(pk=member.pk).update(
        limit_reset="daily", period_usage_nanos=1_000, period_start=timezone.now() - timedelta(days=2)
    )

    _hold(account, key, 1_000)

    member.refresh_from_db()
    assert member.period_usage_nanos == 0 and member.held_nanos == 1_000
    assert member.period_start.date() == timezone.now().date()


def test_a_key_whose_owner_left_is_refused_even_before_its_revocation_is_seen(team):
    account, key, member = team
    Membership.objects.filter(pk=member.pk).delete()  # as if the key's revocation had not landed

    with pytest.raises(services.MemberBudgetReached, match="no longer a member"):
        _hold(account, key, 1)
    account.refresh_from_db()
    assert account.held_nanos == 0


def test_an_expired_hold_gives_the_budget_back(team):
    account, key, member = team
    _hold(account, key, 1_000)
    Hold.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert services.holds_release_expired() == 1

    member.refresh_from_db()
    assert member.held_nanos == 0
    assert CreditAccount.objects.get(pk=account.pk).held_nanos == 0
    assert ledger_audit() == []


def test_the_audit_reports_member_counters_that_disagree_with_holds_and_charges(team, allow_audit_violations):
    account, key, member = team
    _hold(account, key, 300)
    Membership.objects.filter(pk=member.pk).update(held_nanos=0, usage_nanos=5)

    found = {(v.check, v.subject) for v in ledger_audit()}

    assert found == {("member held", f"membership {member.pk}"), ("member spend", f"membership {member.pk}")}


def test_a_new_member_starts_with_the_organisation_default_budget(team):
    account, key, member = team
    organisation = member.organisation
    orgs.organisation_update(organisation=organisation, default_limit_nanos=700, default_limit_reset="weekly")
    newcomer = get_user_model().objects.create_user("n", "n@t.test", "pw-123456789")

    joined, created = orgs.member_set(organisation=organisation, user=newcomer)
    key, _ = api_key_create(user=newcomer, name="n", organisation_id=organisation.pk)

    assert created and (joined.limit_nanos, joined.limit_reset) == (700, "weekly")
    with pytest.raises(services.MemberBudgetReached):
        _hold(account, key, 701)
    member.refresh_from_db()
    assert member.limit_nanos == 1_000  # existing members keep theirs
