"""Reads for organisations, each checked against the asking user's membership.

Someone else's organisation and one that does not exist look the same: 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from accounts.organisations.models import Membership, Organisation


def memberships_of(*, user: Any) -> QuerySet[Membership]:
    """The user's memberships, with their organisations, by organisation name."""
    return (
        Membership.objects.filter(user=user)
        .select_related("organisation")
        .order_by("organisation__name", "organisation__pk")
    )


def membership_get(*, user: Any, slug: str, admin: bool = False) -> Membership:
    """The user's membership of the organisation ``slug``; 404 if none (or, with ``admin``,
    if they are a plain member: an admin page is as hidden from members as from outsiders)."""
    membership = (
        Membership.objects.filter(user=user, organisation__slug=slug).select_related("organisation").first()
        if user.is_authenticated
        else None
    )
    if membership is None or (admin and not membership.is_admin):
        raise Http404("No such organisation.")
    return membership


def organisation_by_slug(slug: str) -> Organisation | None:
    return Organisation.objects.filter(slug=slug).first()


def members_of(*, organisation: Organisation) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organisation=organisation)
        .select_related("user")
        .order_by("joined_at", "pk")
    )
