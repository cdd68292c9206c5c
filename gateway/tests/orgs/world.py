"""An organisation with an owner and members, each with a key in it, for the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

from accounts.organisations import services as orgs
from accounts.organisations.models import Membership, Organisation
from accounts.services import api_key_create
from billing import services as billing
from billing.models import CreditAccount


@dataclass
class Member:
    user: Any
    key: Any
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def membership(self, organisation: Organisation) -> Membership:
        return Membership.objects.get(organisation=organisation, user=self.user)


@dataclass
class OrgWorld:
    organisation: Organisation
    account: CreditAccount
    members: dict[str, Member] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Member:
        return self.members[name]

    def balance(self) -> int:
        self.account.refresh_from_db()
        return self.account.balance_nanos

    def add(self, name: str, role: str = "member", **budget: Any) -> Member:
        user = get_user_model().objects.create_user(name, f"{name}@team.test", "pw-123456789")
        billing.account_for_user(user=user)  # an empty personal account beside the organisation's
        orgs.member_set(organisation=self.organisation, user=user, role=role, **budget)
        return self.key_for(name, user)

    def key_for(self, name: str, user: Any, **key_fields: Any) -> Member:
        key, secret = api_key_create(
            user=user, name=f"{name} key", organisation_id=self.organisation.pk, **key_fields
        )
        self.members[name] = Member(user=user, key=key, secret=secret)
        return self.members[name]


def make_org(
    *, credits_nanos: int = 10_000_000_000, name: str = "Acme", owner_name: str = "owner"
) -> OrgWorld:
    """An organisation owned by ``owner_name`` (its ``["owner"]``, with a key in it), funded
    with ``credits_nanos``."""
    owner = get_user_model().objects.create_user(owner_name, f"{owner_name}@team.test", "pw-123456789")
    billing.account_for_user(user=owner)
    organisation = orgs.organisation_create(name=name, owner=owner)
    account = billing.account_for_organisation(organisation=organisation)
    if credits_nanos:
        billing.credits_grant(account=account, amount_nanos=credits_nanos, idempotency_key=f"seed:{name}")
    world = OrgWorld(organisation=organisation, account=account)
    world.key_for("owner", owner)
    return world
