"""Writes for organisations: creating one, members and their roles and budgets.

Role changes lock the organisation's row first, so two admins demoting the last two owners
at once cannot both succeed: the second sees the first's change and is refused. Removing a
member revokes their keys in that organisation in the same transaction (this process forgets
them at once, every other process within ``AUTH_CACHE_SECONDS``).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.text import slugify

from accounts import services as keys
from accounts.models import ApiKey
from accounts.organisations.events import org_event
from accounts.organisations.models import Invitation, Membership, Organisation, Reset
from accounts.services import UNSET
from promptgrid.periods import period_start

Role = Membership.Role


class OrganisationRefused(Exception):
    """A change the rules forbid (the last owner leaving, a bad slug…); the message is safe to show."""


MAX_OWNED = 50  # organisations one user may own: a bound on what one account can create

# Path segments of the organisation pages that a slug must not shadow (/orgs/<slug>/).
_RESERVED_SLUGS = frozenset({"new", "switch", "invitations"})


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50].strip("-") or "org"
    slug = base
    while slug in _RESERVED_SLUGS or Organisation.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


@transaction.atomic
def organisation_create(*, name: str, owner: Any) -> Organisation:
    """Create an organisation with ``owner`` as its first owner; its slug is derived from the name."""
    name = name.strip()
    if not name:
        raise OrganisationRefused("An organisation needs a name.")
    if len(name) > 100:
        raise OrganisationRefused("An organisation's name is at most 100 characters.")
    if Membership.objects.filter(user=owner, role=Role.OWNER).count() >= MAX_OWNED:
        raise OrganisationRefused(f"You can own at most {MAX_OWNED} organisations.")
    for _ in range(3):  # a racing creation of the same name takes the slug: try another
        try:
            with transaction.atomic():
                organisation = Organisation.objects.create(name=name, slug=_unique_slug(name))
            break
        except IntegrityError:
            continue
    else:
        raise OrganisationRefused("Could not pick a free slug for this name; try another name.")
    membership = Membership.objects.create(organisation=organisation, user=owner, role=Role.OWNER)
    org_event(
        action="organisation.create",
        organisation=organisation,
        actor=owner,
        target=organisation,
        new={"name": organisation.name, "slug": organisation.slug},
    )
    org_event(
        action="member.add",
        organisation=organisation,
        actor=owner,
        target=membership,
        new={"role": Role.OWNER},
    )
    return organisation


def _lock(organisation: Organisation) -> Organisation:
    return Organisation.objects.select_for_update().get(pk=organisation.pk)


def _other_owners(organisation: Organisation, user: Any) -> bool:
    return Membership.objects.filter(organisation=organisation, role=Role.OWNER).exclude(user=user).exists()


def _budget_fields(limit_nanos: Any, limit_reset: Any, allowed_models: Any) -> dict[str, Any]:
    fields = {"limit_nanos": limit_nanos, "limit_reset": limit_reset, "allowed_models": allowed_models}
    fields = {name: value for name, value in fields.items() if value is not UNSET}
    if "limit_nanos" in fields and fields["limit_nanos"] is not None and fields["limit_nanos"] < 0:
        raise OrganisationRefused("A budget cannot be negative.")
    if fields.get("limit_reset", Reset.NEVER) not in Reset.values:
        raise OrganisationRefused(f"A budget resets {', '.join(Reset.values)}.")
    if "allowed_models" in fields:
        fields["allowed_models"] = sorted({str(slug) for slug in fields["allowed_models"] or []})
    return fields


@transaction.atomic
def member_set(
    *,
    organisation: Organisation,
    user: Any,
    role: str | None = None,
    limit_nanos: int | None = UNSET,
    limit_reset: str = UNSET,
    allowed_models: list[str] = UNSET,
    actor: Any = None,
) -> tuple[Membership, bool]:
    """Add ``user`` (with the organisation's default budget) or update their role and budget.

    Returns ``(membership, created)``. Refuses (OrganisationRefused) to demote the last owner.
    Fields left UNSET stay as they are.
    """
    organisation = _lock(organisation)
    if role is not None and role not in Role.values:
        raise OrganisationRefused(f"A role is one of {', '.join(Role.values)}.")
    fields = _budget_fields(limit_nanos, limit_reset, allowed_models)
    membership = Membership.objects.select_for_update().filter(organisation=organisation, user=user).first()
    if membership is None:
        defaults = {
            "limit_nanos": organisation.default_limit_nanos,
            "limit_reset": organisation.default_limit_reset,
        }
        membership = Membership.objects.create(
            organisation=organisation, user=user, role=role or Role.MEMBER, **{**defaults, **fields}
        )
        org_event(
            action="member.add",
            organisation=organisation,
            actor=actor,
            target=membership,
            new={"role": membership.role, **_budget_of(membership)},
        )
        return membership, True
    changed: list[str] = []
    if role is not None and role != membership.role:
        if membership.role == Role.OWNER and not _other_owners(organisation, user):
            raise OrganisationRefused("The last owner cannot be demoted; make someone else an owner first.")
        org_event(
            action="member.role",
            organisation=organisation,
            actor=actor,
            target=membership,
            old={"role": membership.role},
            new={"role": role},
        )
        membership.role = role
        changed.append("role")
    old_budget = _budget_of(membership)
    if fields.get("limit_reset", membership.limit_reset) != membership.limit_reset:
        changed += _rebase_period(membership, fields["limit_reset"])
    for name, value in fields.items():
        if getattr(membership, name) != value:
            setattr(membership, name, value)
            changed.append(name)
    if changed:
        membership.save(update_fields=sorted(set(changed)))
        if _budget_of(membership) != old_budget:
            org_event(
                action="member.budget",
                organisation=organisation,
                actor=actor,
                target=membership,
                old=old_budget,
                new=_budget_of(membership),
            )
            # Cached key lookups carry the member's model allowlist.
            _forget_keys(organisation, user)
    return membership, False


def _budget_of(membership: Membership) -> dict[str, Any]:
    return {
        "limit_nanos": membership.limit_nanos,
        "limit_reset": membership.limit_reset,
        "allowed_models": list(membership.allowed_models or []),
    }


def _rebase_period(membership: Membership, new_reset: str) -> list[str]:
    """Recount the member's period spend for a new reset rule, from their keys' generations
    in this organisation (as ``accounts.services._rebase_period`` does for a key)."""
    from billing.models import Generation  # member spend: see the import contracts in .importlinter

    start = period_start(new_reset, timezone.now())
    if start is None:
        return []
    membership.period_usage_nanos = Generation.objects.filter(
        user_id=membership.user_id,
        api_key__organisation_id=membership.organisation_id,
        created_at__gte=start,
    ).aggregate(total=Sum("cost_nanos", default=0))["total"]
    membership.period_start = start
    return ["period_usage_nanos", "period_start"]


def _forget_keys(organisation: Organisation, user: Any) -> None:
    for secret_hash in ApiKey.objects.filter(organisation=organisation, user=user).values_list(
        "secret_hash", flat=True
    ):
        keys.forget_on_commit(secret_hash)


@transaction.atomic
def member_remove(*, organisation: Organisation, user: Any, actor: Any = None) -> bool:
    """Remove ``user`` and revoke their keys in this organisation. False if not a member.

    Refuses to remove the last owner (an organisation always has one).
    """
    organisation = _lock(organisation)
    membership = Membership.objects.select_for_update().filter(organisation=organisation, user=user).first()
    if membership is None:
        return False
    if membership.role == Role.OWNER and not _other_owners(organisation, user):
        raise OrganisationRefused("The last owner cannot leave; make someone else an owner first.")
    for key in ApiKey.objects.filter(organisation=organisation, user=user, revoked_at__isnull=True):
        keys.api_key_revoke(key=key, actor=actor or "system")  # not the member: who removed them
    membership.delete()
    org_event(
        action="member.remove",
        organisation=organisation,
        actor=actor,
        target=membership,
        old={"role": membership.role},
    )
    return True


@transaction.atomic
def organisation_update(
    *,
    organisation: Organisation,
    actor: Any = None,
    allowed_models: list[str] = UNSET,
    default_limit_nanos: int | None = UNSET,
    default_limit_reset: str = UNSET,
    require_mfa: bool = UNSET,
) -> Organisation:
    """Change the organisation-wide model allowlist, default member budget or 2FA rule."""
    organisation = _lock(organisation)
    fields = _budget_fields(default_limit_nanos, default_limit_reset, allowed_models)
    renamed = {"limit_nanos": "default_limit_nanos", "limit_reset": "default_limit_reset"}
    changes = {renamed.get(name, name): value for name, value in fields.items()}
    if require_mfa is not UNSET:
        changes["require_mfa"] = bool(require_mfa)
    old = {name: getattr(organisation, name) for name in changes}
    for name, value in changes.items():
        setattr(organisation, name, value)
    if changes:
        organisation.save(update_fields=list(changes))
        org_event(
            action="organisation.settings",
            organisation=organisation,
            actor=actor,
            target=organisation,
            old=old,
            new=changes,
        )
        if "allowed_models" in changes:
            for secret_hash in ApiKey.objects.filter(organisation=organisation).values_list(
                "secret_hash", flat=True
            ):
                keys.forget_on_commit(secret_hash)
    return organisation


def member_change_check(*, actor: Membership, target: Membership | None, role: str | None = None) -> None:
    """Who may change whom: admins manage members and admins; only an owner makes, changes
    or removes an owner. Raises OrganisationRefused (the caller 404s a plain member)."""
    if not actor.is_admin:
        raise OrganisationRefused("Only an organisation's owners and admins manage its members.")
    touches_owner = role == Role.OWNER or (target is not None and target.role == Role.OWNER)
    if touches_owner and not actor.is_owner:
        raise OrganisationRefused("Only an owner can make, change or remove an owner.")


@transaction.atomic
def organisation_close(*, organisation: Organisation, actor: Any) -> None:
    """Delete the organisation for its members: revoke every key, remove every member.

    Refused while it holds credits or has requests in flight (its money must not vanish);
    the account, ledger and generations stay for the books, and the slug stays taken.
    """
    from billing.models import CreditAccount  # its balance: see the import contracts in .importlinter

    organisation = _lock(organisation)
    account = (
        CreditAccount.objects.filter(organisation=organisation).values("balance_nanos", "held_nanos").first()
    )
    if account and (account["balance_nanos"] or account["held_nanos"]):
        raise OrganisationRefused("An organisation with credits or requests in flight cannot be deleted.")
    for key in ApiKey.objects.filter(organisation=organisation, revoked_at__isnull=True):
        keys.api_key_revoke(key=key, actor=actor)
    org_event(action="organisation.delete", organisation=organisation, actor=actor, target=organisation)
    Membership.objects.filter(organisation=organisation).delete()
    Invitation.objects.filter(
        organisation=organisation, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    organisation.closed_at = timezone.now()
    organisation.save(update_fields=["closed_at"])
