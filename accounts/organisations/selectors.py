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


def member_period_spent(membership: Membership, now: Any = None) -> int:
    """What the member spent in their current budget period (their total with no reset),
    from billing's counters: the period counter restarts lazily, on the period's first hold."""
    from django.utils import timezone

    from promptgrid.periods import period_start

    start = period_start(membership.limit_reset, now or timezone.now())
    if start is None:
        return membership.usage_nanos
    if membership.period_start is None or membership.period_start < start:
        return 0
    return membership.period_usage_nanos


def member_rows(*, organisation: Organisation) -> list[dict[str, Any]]:
    """Each member with their spend this period against their budget, and the bar of the
    spend-by-member chart (its share of the largest spend)."""
    members = list(members_of(organisation=organisation))
    spent = {member.pk: member_period_spent(member) for member in members}
    top = max(spent.values(), default=0) or 1
    return [
        {
            "member": member,
            "spent_nanos": spent[member.pk],
            "left_nanos": None
            if member.limit_nanos is None
            else max(member.limit_nanos - spent[member.pk], 0),
            "used_pct": None
            if not member.limit_nanos
            else min(100, round(100 * (spent[member.pk] + member.held_nanos) / member.limit_nanos)),
            "bar_pct": round(100 * spent[member.pk] / top),
        }
        for member in members
    ]
