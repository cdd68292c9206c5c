"""The dashboard's context: the user's personal account or one of their organisations.

Chosen with the sidebar's switcher and remembered in the session; checked against the
user's memberships on every request, so a membership that ended takes the user back to
their personal context (an organisation they left is never shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from accounts.organisations.models import Membership, Organisation

SESSION_KEY = "pg_context"


@dataclass(frozen=True)
class DashContext:
    user: Any
    membership: Membership | None = None
    has_orgs: bool = True  # whether the user is in any organisation (the personal filter needs it)

    @property
    def organisation(self) -> Organisation | None:
        return self.membership.organisation if self.membership else None

    @property
    def organisation_id(self) -> int | None:
        return self.membership.organisation_id if self.membership else None

    @property
    def is_personal(self) -> bool:
        return self.membership is None

    @property
    def sees_everyone(self) -> bool:
        """Admins and owners see every member's keys and activity; members their own."""
        return self.membership is not None and self.membership.is_admin

    @property
    def is_owner(self) -> bool:
        """Who may pay: the user for their own account, owners for an organisation's."""
        return self.membership is None or self.membership.is_owner

    @property
    def name(self) -> str:
        return self.organisation.name if self.membership else "Personal"

    @property
    def scope(self) -> dict[str, Any]:
        return self.generations(has_orgs=self.has_orgs)

    def generations(self, *, has_orgs: bool = True) -> dict[str, Any]:
        """The Generation filter of this context (``user`` and ``organisation`` columns).

        Personal: the user's own requests with personal keys. When the user is in no
        organisation that is every request of theirs, which the plain ``user`` filter
        reads from the (user, …) indexes alone.
        """
        if self.membership is None:
            if not has_orgs:
                return {"user_id": self.user.pk}
            return {"user_id": self.user.pk, "organisation_id__isnull": True}
        if self.sees_everyone:
            return {"organisation_id": self.membership.organisation_id}
        return {"organisation_id": self.membership.organisation_id, "user_id": self.user.pk}

    def generation_q(self) -> Q:
        return Q(**self.scope)

    @property
    def cache_scope(self) -> str:
        """Names what the context's figures cover, for caches."""
        if self.membership is None:
            return f"u{self.user.pk}"
        if self.sees_everyone:
            return f"o{self.membership.organisation_id}"
        return f"o{self.membership.organisation_id}u{self.user.pk}"

    def account_filter(self) -> dict[str, Any]:
        """The CreditAccount of this context."""
        if self.membership is None:
            return {"user_id": self.user.pk}
        return {"organisation_id": self.membership.organisation_id}


def mfa_missing(user: Any, organisation: Organisation) -> bool:
    """True when ``organisation`` requires two-factor sign-in and ``user`` has not set it up
    (allauth's ``mfa``: an authenticator app; its recovery codes come with it)."""
    if not organisation.require_mfa:
        return False
    from allauth.mfa.models import Authenticator

    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def _memberships(request: Any) -> list[Membership]:
    """The user's memberships with their organisations: one query per request, shared by the
    page and the sidebar's switcher."""
    cached = getattr(request, "_pg_memberships", None)
    if cached is None:
        cached = list(
            Membership.objects.filter(user=request.user)
            .select_related("organisation")
            .order_by("organisation__name", "organisation__pk")
        )
        request._pg_memberships = cached
    return cached


def current_context(request: Any) -> DashContext:
    """The context the session chose, if the user is (still) a member; else personal."""
    user = request.user
    if not user.is_authenticated:
        return DashContext(user=user, has_orgs=False)
    memberships = _memberships(request)
    slug = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    chosen = next((m for m in memberships if m.organisation.slug == slug), None) if slug else None
    if chosen is not None and mfa_missing(user, chosen.organisation):
        chosen = None  # the organisation asks for two-factor sign-in first (switching says so)
    if chosen is None:
        if slug:
            request.session.pop(SESSION_KEY, None)
        return DashContext(user=user, has_orgs=bool(memberships))
    return DashContext(user=user, membership=chosen)


def choose_context(request: Any, slug: str) -> DashContext | None:
    """Switch the session to ``slug`` ("" for personal); None if the user is not a member."""
    if not slug:
        request.session.pop(SESSION_KEY, None)
        return DashContext(user=request.user)
    membership = (
        Membership.objects.filter(user=request.user, organisation__slug=slug)
        .select_related("organisation")
        .first()
    )
    if membership is None:
        return None
    request.session[SESSION_KEY] = slug
    request._pg_memberships = None  # switched: read again
    return DashContext(user=request.user, membership=membership)


def contexts_for(request: Any) -> list[tuple[str, str]]:
    """(slug, name) of every context the user can switch to, personal first."""
    if not request.user.is_authenticated:
        return []
    return [("", "Personal"), *((m.organisation.slug, m.organisation.name) for m in _memberships(request))]
