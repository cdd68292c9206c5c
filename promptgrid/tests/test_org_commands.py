"""``create_org``, ``org_member`` and ``create_api_key --org``: what operators and scripts run."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import ApiKey
from accounts.organisations.models import Membership, Organisation
from billing.audit import ledger_audit

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def owner():
    return get_user_model().objects.create_user("owner", "owner@acme.test", "pw-123456789")


@pytest.fixture
def dev():
    return get_user_model().objects.create_user("dev", "dev@acme.test", "pw-123456789")


def test_create_org_prints_the_slug_last_and_funds_the_organisation_to_the_nano(owner):
    lines = run(
        "create_org", "--name", "Acme Labs", "--owner", "OWNER@acme.test", "--credits", "12.000000001"
    )

    organisation = Organisation.objects.get(slug=lines[-1])
    assert organisation.slug == "acme-labs" and organisation.name == "Acme Labs"
    assert organisation.credit_account.balance_nanos == 12_000_000_001
    assert Membership.objects.get(organisation=organisation).role == "owner"
    assert ledger_audit() == []


def test_two_organisations_of_one_name_get_two_slugs(owner):
    first = run("create_org", "--name", "Acme", "--owner", owner.email)[-1]
    second = run("create_org", "--name", "Acme", "--owner", owner.email)[-1]
    assert first == "acme" and second.startswith("acme-") and second != first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--owner", "nobody@acme.test"], "No user"),
        (["--owner", "owner@acme.test", "--credits", "0.0000000001"], "finer than a nano"),
        (["--owner", "owner@acme.test", "--credits", "-5"], "positive"),
        (["--owner", "owner@acme.test", "--credits", "lots"], "not an amount"),
    ],
)
def test_create_org_refuses_bad_input(owner, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_org", "--name", "Acme", *args)
    assert not Organisation.objects.exists()


@pytest.fixture
def acme(owner) -> str:
    return run("create_org", "--name", "Acme", "--owner", owner.email)[-1]


def test_org_member_adds_then_updates_in_place(acme, dev):
    run(
        "org_member",
        "--org",
        acme,
        "--email",
        dev.email,
        "--role",
        "member",
        "--limit",
        "5",
        "--limit-reset",
        "daily",
    )
    run("org_member", "--org", acme, "--email", dev.email, "--role", "admin", "--limit", "7.5")

    membership = Membership.objects.get(user=dev)
    assert (membership.role, membership.limit_nanos, membership.limit_reset) == (
        "admin",
        7_500_000_000,
        "never",
    )
    assert Membership.objects.filter(user=dev).count() == 1
    run("org_member", "--org", acme, "--email", dev.email, "--limit", "none")
    membership.refresh_from_db()
    assert membership.limit_nanos is None and membership.role == "admin"


def test_the_last_owner_cannot_be_demoted_or_removed(acme, owner, dev):
    with pytest.raises(CommandError, match="last owner"):
        run("org_member", "--org", acme, "--email", owner.email, "--role", "admin")
    with pytest.raises(CommandError, match="last owner"):
        run("org_member", "--org", acme, "--email", owner.email, "--remove")
    assert Membership.objects.get(user=owner).role == "owner"

    run("org_member", "--org", acme, "--email", dev.email, "--role", "owner")
    run("org_member", "--org", acme, "--email", owner.email, "--role", "member")
    assert Membership.objects.get(user=owner).role == "member"


def test_org_member_remove_revokes_the_members_keys_in_that_organisation_only(acme, dev):
    run("org_member", "--org", acme, "--email", dev.email, "--role", "member")
    run("create_api_key", "--email", dev.email, "--org", acme)
    run("create_api_key", "--email", dev.email)  # personal

    assert run("org_member", "--org", acme, "--email", dev.email, "--remove") == ["Removed dev@acme.test."]

    statuses = dict(ApiKey.objects.filter(user=dev).values_list("organisation__slug", "revoked_at"))
    assert statuses[acme] is not None and statuses[None] is None
    assert not Membership.objects.filter(user=dev).exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--org", "nope", "--email", "dev@acme.test", "--role", "member"],
        ["--email", "ghost@acme.test", "--role", "member"],
        ["--email", "dev@acme.test", "--role", "member", "--limit", "-1"],
        ["--email", "dev@acme.test", "--role", "member", "--limit", "1.0000000001"],
    ],
)
def test_org_member_refuses_bad_input(acme, dev, args):
    if "--org" not in args:
        args = ["--org", acme, *args]
    with pytest.raises((CommandError, SystemExit)):
        run("org_member", *args)
    assert not Membership.objects.filter(user=dev).exists()


def test_create_api_key_in_an_organisation_needs_a_member_and_funds_the_organisation(acme, dev):
    with pytest.raises(CommandError, match="not a member"):
        run("create_api_key", "--email", dev.email, "--org", acme)
    run("org_member", "--org", acme, "--email", dev.email, "--role", "member")

    lines = run("create_api_key", "--email", dev.email, "--org", acme, "--credits", "3")

    key = ApiKey.objects.get(user=dev)
    assert key.organisation.slug == acme and lines[-1].startswith("pg-v1-")
    assert Organisation.objects.get(slug=acme).credit_account.balance_nanos == 3_000_000_000
    with pytest.raises(CommandError, match="No organisation"):
        run("create_api_key", "--email", dev.email, "--org", "nope")


def test_role_budget_and_removal_are_in_the_organisations_audit_log(acme, dev):
    from accounts.audit_log.models import AuditEntry

    run("org_member", "--org", acme, "--email", dev.email, "--role", "member")
    run("org_member", "--org", acme, "--email", dev.email, "--role", "admin", "--limit", "2")
    run("org_member", "--org", acme, "--email", dev.email, "--remove")

    organisation = Organisation.objects.get(slug=acme)
    entries = AuditEntry.objects.filter(organisation_id=organisation.pk).order_by("id")
    actions = [(e.action, e.old, e.new) for e in entries if e.target_repr.startswith("dev@")]
    assert [a for a, _, _ in actions] == ["member.add", "member.role", "member.budget", "member.remove"]
    assert actions[1][1:] == ({"role": "member"}, {"role": "admin"})
    assert actions[2][2]["limit_nanos"] == 2_000_000_000


def test_one_user_owns_a_bounded_number_of_organisations(owner, monkeypatch):
    from accounts.organisations import services

    monkeypatch.setattr(services, "MAX_OWNED", 2)
    run("create_org", "--name", "One", "--owner", owner.email)
    run("create_org", "--name", "Two", "--owner", owner.email)
    with pytest.raises(CommandError, match="at most 2"):
        run("create_org", "--name", "Three", "--owner", owner.email)
