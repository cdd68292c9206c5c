"""Invitations: a signed link by email that expires, works once and can be revoked.

The link carries ``signing.dumps((invitation id, nonce))``: the signature makes it
unguessable and the nonce ties it to this invitation only (a revoked and re-sent one gets a
new link). Its state is the row's: accepting is one conditional UPDATE (not accepted, not
revoked, not expired), so two clicks at once make one membership, whoever wins.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.organisations.events import org_event
from accounts.organisations.models import Invitation, Membership, Organisation
from accounts.organisations.services import OrganisationRefused, member_set

_SALT = "promptgrid.organisations.invitation"
MAX_PENDING = 200  # invitations open at once per organisation: a limit on what one admin can send


class InvitationInvalid(Exception):
    """The link is not (or no longer) good; the message is safe to show."""


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps([invitation.pk, invitation.nonce], salt=_SALT, compress=False)


def invitation_url(invitation: Invitation) -> str:
    return f"{settings.SITE_URL}/orgs/invitations/{invitation_token(invitation)}/"


def _emails_of(user: Any) -> set[str]:
    from allauth.account.models import EmailAddress

    emails = {
        address.lower() for address in EmailAddress.objects.filter(user=user).values_list("email", flat=True)
    }
    if user.email:
        emails.add(user.email.lower())
    return emails


@transaction.atomic
def invitation_create(
    *, organisation: Organisation, email: str, role: str = Membership.Role.MEMBER, invited_by: Any
) -> Invitation:
    """Invite ``email`` with ``role``; a pending invitation of the same address is replaced.

    The caller sends the mail (``invitation_send``) once this commits.
    """
    email = email.strip().lower()
    if role not in Membership.Role.values:
        raise OrganisationRefused(f"A role is one of {', '.join(Membership.Role.values)}.")
    if (
        role == Membership.Role.OWNER
        and not Membership.objects.filter(
            organisation=organisation, user=invited_by, role=Membership.Role.OWNER
        ).exists()
    ):
        raise OrganisationRefused("Only an owner can invite another owner.")
    if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
        raise OrganisationRefused(f"{email} is already a member.")
    now = timezone.now()
    pending = Invitation.objects.filter(
        organisation=organisation, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    )
    pending.filter(email__iexact=email).update(revoked_at=now)
    if pending.count() >= MAX_PENDING:
        raise OrganisationRefused(
            f"At most {MAX_PENDING} invitations can be open at once; revoke some first."
        )
    invitation = Invitation.objects.create(
        organisation=organisation,
        email=email,
        role=role,
        invited_by=invited_by,
        nonce=secrets.token_urlsafe(16),
        expires_at=now + timedelta(days=settings.ORG_INVITATION_DAYS),
    )
    org_event(
        action="invitation.create",
        organisation=organisation,
        actor=invited_by,
        target=invitation,
        new={"email": email, "role": role, "expires_at": invitation.expires_at},
    )
    return invitation


def invitation_send(*, invitation: Invitation, request: Any = None) -> None:
    """Email the link through allauth's mail set-up (its adapter, backend and sender)."""
    from allauth.account.adapter import get_adapter

    get_adapter(request).send_mail(
        "organisations/email/invitation",
        invitation.email,
        {
            "organisation": invitation.organisation,
            "invitation": invitation,
            "invited_by": invitation.invited_by,
            "url": invitation_url(invitation),
        },
    )


def invitation_from_token(token: str) -> Invitation:
    """The invitation a link names, if it is still good; InvitationInvalid otherwise."""
    try:
        pk, nonce = signing.loads(token, salt=_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise InvitationInvalid("This invitation link is not valid.") from None
    invitation = (
        Invitation.objects.filter(pk=pk, nonce=nonce).select_related("organisation").first()
        if isinstance(pk, int) and isinstance(nonce, str)
        else None
    )
    if invitation is None:
        raise InvitationInvalid("This invitation link is not valid.")
    _check(invitation)
    return invitation


def _check(invitation: Invitation) -> None:
    status = invitation.status
    if status == "accepted":
        raise InvitationInvalid("This invitation has already been used.")
    if status == "revoked":
        raise InvitationInvalid("This invitation has been revoked.")
    if status == "expired":
        raise InvitationInvalid("This invitation has expired; ask for a new one.")


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: Any) -> Membership:
    """Make ``user`` a member with the invitation's role, once.

    The user must own the invited address. A member already in the organisation keeps
    their role (an invitation never demotes).
    """
    if invitation.email.lower() not in _emails_of(user):
        raise InvitationInvalid(
            f"This invitation is for {invitation.email}; sign in with that address to accept it."
        )
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(accepted_at=now, accepted_by=user)
    if not claimed:
        invitation.refresh_from_db()
        _check(invitation)
        raise InvitationInvalid("This invitation is no longer valid.")
    organisation = invitation.organisation
    existing = Membership.objects.filter(organisation=organisation, user=user).first()
    membership = (
        existing or member_set(organisation=organisation, user=user, role=invitation.role, actor=user)[0]
    )
    org_event(
        action="invitation.accept",
        organisation=organisation,
        actor=user,
        target=invitation,
        new={"email": invitation.email, "role": membership.role},
    )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Any) -> bool:
    """Revoke a pending invitation; its link stops working. False if it was not pending."""
    revoked = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if revoked:
        org_event(
            action="invitation.revoke",
            organisation=invitation.organisation,
            actor=actor,
            target=invitation,
            old={"email": invitation.email, "role": invitation.role},
        )
    return bool(revoked)
