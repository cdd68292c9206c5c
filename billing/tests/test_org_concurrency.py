"""Organisation races on PostgreSQL: one balance shared by members, a member's budget, and
one invitation accepted twice at once.

As in ``test_concurrency``, each test first runs a naive read-check-write version under the
same load to show the race is real, then the real service, with an exact count and a clean
audit.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F

from accounts.audit_log.models import AuditEntry
from accounts.models import ApiKey
from accounts.organisations import invitations
from accounts.organisations import services as orgs
from accounts.organisations.models import Membership, Organisation
from accounts.services import api_key_create
from billing import services
from billing.audit import ledger_audit
from billing.models import CreditAccount, Hold
from billing.tests import races

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises write transactions; races need PostgreSQL",
    ),
]

AMOUNT = 1_000_000  # one request's worst case: $0.001
N = 8  # requests the money (or the budget) covers


def _user(name: str):
    return get_user_model().objects.create_user(name, f"{name}@team.test", "pw-123456789")


def _org(name: str, credits: int) -> tuple[Organisation, CreditAccount]:
    organisation = orgs.organisation_create(name=name, owner=_user(f"{name}-owner"))
    account = services.account_for_organisation(organisation=organisation)
    services.credits_grant(account=account, amount_nanos=credits)
    return organisation, account


def _member_key(organisation: Organisation, name: str, **budget) -> int:
    user = _user(name)
    orgs.member_set(organisation=organisation, user=user, **budget)
    key, _ = api_key_create(user=user, name=name, organisation_id=organisation.pk)
    return key.pk


def _worker(account_id: int, api_key_id: int, mode: str, start_at: float) -> subprocess.Popen:
    args = {"account_id": account_id, "api_key_id": api_key_id, "amount": AMOUNT, "threads": 5, "attempts": 4}
    return races.start_race_worker({**args, "mode": mode, "start_at": start_at})


def _two_members_storm(account_id: int, keys: list[int], mode: str) -> int:
    """Two processes, one per member, 5 threads x 4 attempts each: 40 attempts for N holds (5x)."""
    start_at = time.time() + 4  # both interpreters start Django in time
    workers = [_worker(account_id, key, mode, start_at) for key in keys]
    placed = 0
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        report = json.loads(out.strip().splitlines()[-1])
        assert report["errors"] == [], report
        placed += report["ok"]
    return placed


def test_two_members_spending_one_balance_from_two_processes_never_overdraw(
    transactional_db, allow_audit_violations
):
    # The race is real: read-check-write holds let more through than the organisation's money covers.
    naive_org, naive = _org("naive", N * AMOUNT)
    naive_placed = _two_members_storm(
        naive.pk, [_member_key(naive_org, "n1"), _member_key(naive_org, "n2")], "naive"
    )
    naive.refresh_from_db()
    assert naive_placed > N and naive.available_nanos < 0

    organisation, account = _org("real", N * AMOUNT)
    keys = [_member_key(organisation, "m1"), _member_key(organisation, "m2")]
    placed = _two_members_storm(account.pk, keys, "real")

    account.refresh_from_db()
    assert placed == N
    assert (account.balance_nanos, account.held_nanos) == (N * AMOUNT, N * AMOUNT)
    members = Membership.objects.filter(organisation=organisation, role="member")
    assert sum(m.held_nanos for m in members) == N * AMOUNT
    assert [v for v in ledger_audit() if v.subject != f"account {naive.pk}"] == []


def naive_member_hold(*, account_id: int, api_key_id: int, membership_id: int, amount_nanos: int) -> Hold:
    """Read the member's room, decide, then write: what the hold statement must not be."""
    with transaction.atomic():
        member = Membership.objects.get(pk=membership_id)
        if member.limit_nanos - member.usage_nanos - member.held_nanos < amount_nanos:
            raise services.MemberBudgetReached("budget")
        time.sleep(races.WINDOW_SECONDS)
        Membership.objects.filter(pk=membership_id).update(held_nanos=F("held_nanos") + amount_nanos)
        ApiKey.objects.filter(pk=api_key_id).update(held_nanos=F("held_nanos") + amount_nanos)
        CreditAccount.objects.filter(pk=account_id).update(held_nanos=F("held_nanos") + amount_nanos)
        return Hold.objects.create(
            account_id=account_id,
            api_key_id=api_key_id,
            membership_id=membership_id,
            amount_nanos=amount_nanos,
            expires_at=races.timezone.now() + races.timedelta(seconds=600),
        )


def test_a_member_budget_holds_under_40_concurrent_requests(transactional_db, allow_audit_violations):
    def budgeted(name: str) -> tuple[CreditAccount, int, Membership]:
        organisation, account = _org(name, 100 * N * AMOUNT)  # the balance is not what stops them
        key = _member_key(organisation, f"{name}-dev", limit_nanos=N * AMOUNT)
        return account, key, Membership.objects.get(organisation=organisation, user__username=f"{name}-dev")

    account, key, member = budgeted("naive")
    results = races.concurrently(
        lambda: naive_member_hold(
            account_id=account.pk, api_key_id=key, membership_id=member.pk, amount_nanos=AMOUNT
        ),
        threads=40,
    )
    member.refresh_from_db()
    assert sum(isinstance(r, Hold) for r in results) > N and member.held_nanos > member.limit_nanos

    account, key, member = budgeted("real")
    results = races.concurrently(
        lambda: services.hold_place(
            account_id=account.pk, amount_nanos=AMOUNT, ttl_seconds=600, api_key_id=key
        ),
        threads=40,
    )
    assert sum(not isinstance(r, Exception) for r in results) == N
    assert all(isinstance(r, services.MemberBudgetReached) for r in results if isinstance(r, Exception)), (
        results
    )
    member.refresh_from_db()
    account.refresh_from_db()
    assert member.held_nanos == N * AMOUNT == account.held_nanos
    # Settling every hold at its full amount spends the budget exactly; the next hold is refused.
    for i, hold in enumerate(Hold.objects.filter(membership=member).order_by("pk")):
        generation = _generation(member.user, key, f"gen-race-{i}")
        services.generation_settle(generation=generation, hold_id=hold.pk, cost_nanos=AMOUNT)
    member.refresh_from_db()
    assert (member.usage_nanos, member.held_nanos) == (N * AMOUNT, 0)
    with pytest.raises(services.MemberBudgetReached):
        services.hold_place(account_id=account.pk, amount_nanos=1, ttl_seconds=600, api_key_id=key)
    # The naive run's holds are consistent, only too many: the audit is clean.
    assert ledger_audit() == []


def _generation(user, key_id: int, generation_id: str):
    from billing.models import Generation

    return Generation(
        id=generation_id,
        user=user,
        api_key_id=key_id,
        model_slug="mock/echo",
        status=Generation.Status.SUCCESS,
        cost_nanos=AMOUNT,
        created_at=races.timezone.now(),
    )


def naive_accept(*, invitation_id: int, user) -> Membership:
    """Check the invitation is unused, then use it: what ``invitation_accept`` must not be."""
    with transaction.atomic():
        invitation = invitations.Invitation.objects.get(pk=invitation_id)
        if invitation.accepted_at is not None:
            raise invitations.InvitationInvalid("used")
        time.sleep(races.WINDOW_SECONDS)
        invitations.Invitation.objects.filter(pk=invitation_id).update(accepted_at=races.timezone.now())
        membership, _ = Membership.objects.get_or_create(organisation=invitation.organisation, user=user)
        AuditEntry.objects.create(action="invitation.accept", organisation_id=invitation.organisation_id)
        return membership


def test_accepting_one_invitation_twice_at_once_makes_one_membership(
    transactional_db, allow_audit_violations
):
    organisation, _ = _org("acme", AMOUNT)
    owner = Membership.objects.get(organisation=organisation).user

    def invited(name: str):
        user = _user(name)
        return invitations.invitation_create(
            organisation=organisation, email=user.email, invited_by=owner
        ), user

    rounds = 5
    naive_uses = 0
    for i in range(rounds):
        invitation, user = invited(f"naive{i}")
        results = races.concurrently(
            lambda invitation=invitation, user=user: naive_accept(invitation_id=invitation.pk, user=user),
            threads=2,
        )
        naive_uses += sum(isinstance(r, Membership) for r in results)
    assert naive_uses > rounds  # some links worked twice

    for i in range(rounds):
        invitation, user = invited(f"real{i}")
        results = races.concurrently(
            lambda invitation=invitation, user=user: invitations.invitation_accept(
                invitation=invitation, user=user
            ),
            threads=2,
        )
        assert sum(isinstance(r, Membership) for r in results) == 1, results
        assert sum(isinstance(r, invitations.InvitationInvalid) for r in results) == 1, results
        assert Membership.objects.filter(organisation=organisation, user=user).count() == 1
        accepted = AuditEntry.objects.filter(action="invitation.accept", target_id=str(invitation.pk))
        assert accepted.count() == 1
