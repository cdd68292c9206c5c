"""Organisation pages: create one, its members, roles, budgets and invitations, its settings,
the context switcher, and accepting an invitation.

Every page fetches the organisation through the user's membership
(``selectors.membership_get``): someone else's organisation is a 404, and so are the admin
actions for a plain member. Every change is a POST form (CSRF), so the pages work without
JavaScript; htmx only refreshes the members table.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.organisations import invitations, selectors, services
from accounts.organisations.context import choose_context, mfa_missing
from accounts.organisations.forms import (
    InviteForm,
    MemberForm,
    OrganisationCreateForm,
    OrganisationSettingsForm,
)
from accounts.organisations.models import Invitation, Membership
from promptgrid.money import nanos_to_usd

# Where the switcher may send the user back to: each section's first page (an object of
# the previous context, say a generation, would be a 404 in the new one).
_SECTIONS = ("/activity/", "/keys/", "/credits/")


@login_required
@require_POST
def switch_context(request: HttpRequest) -> HttpResponse:
    slug = request.POST.get("org", "")
    ctx = choose_context(request, slug)
    if ctx is None:
        raise Http404("No such organisation.")
    if ctx.organisation is not None and mfa_missing(request.user, ctx.organisation):
        return _mfa_first(request, ctx.organisation)
    back = request.POST.get("next", "/")
    messages.info(request, f"Now showing {ctx.name}.")
    return redirect(next((section for section in _SECTIONS if back.startswith(section)), "/"))


@login_required
@require_http_methods(["GET", "POST"])
def organisation_new(request: HttpRequest) -> HttpResponse:
    form = OrganisationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organisation = services.organisation_create(name=form.cleaned_data["name"], owner=request.user)
        except services.OrganisationRefused as error:
            form.add_error("name", str(error))
        else:
            choose_context(request, organisation.slug)
            messages.success(request, f"Created {organisation.name}. Add credits, then invite your team.")
            return redirect("organisations:detail", slug=organisation.slug)
    return render(request, "organisations/new.html", {"form": form})


def _mfa_first(request: HttpRequest, organisation: Any) -> HttpResponse:
    choose_context(request, "")
    messages.error(
        request,
        f"{organisation.name} requires two-factor sign-in. Set up an authenticator app, then switch again.",
    )
    return redirect("mfa_activate_totp")


def _page(request: HttpRequest, membership: Membership, **extra: Any) -> dict[str, Any]:
    organisation = membership.organisation
    context: dict[str, Any] = {"membership": membership, "organisation": organisation, **extra}
    account = getattr(organisation, "credit_account", None)
    context["balance_nanos"] = account.available_nanos if account else 0
    if membership.is_admin:
        rows = selectors.member_rows(organisation=organisation)
        for row in rows:
            row["form"] = MemberForm.for_member(row["member"])
        context["rows"] = rows
        context["invitations"] = organisation.invitations.filter(
            accepted_at__isnull=True, revoked_at__isnull=True
        ).order_by("-created_at")[:100]
        context.setdefault("invite_form", InviteForm())
    else:
        context["own"] = {
            "spent_nanos": selectors.member_period_spent(membership),
            "limit_nanos": membership.limit_nanos,
        }
    if membership.is_owner:
        context.setdefault(
            "settings_form",
            OrganisationSettingsForm(
                initial={
                    "allowed_models": ", ".join(organisation.allowed_models or []),
                    "default_limit_usd": ""
                    if organisation.default_limit_nanos is None
                    else f"{nanos_to_usd(organisation.default_limit_nanos):f}",
                    "default_limit_reset": organisation.default_limit_reset,
                    "require_mfa": organisation.require_mfa,
                }
            ),
        )
    return context


@login_required
@require_GET
def organisation_detail(request: HttpRequest, slug: str) -> HttpResponse:
    membership = selectors.membership_get(user=request.user, slug=slug)
    if mfa_missing(request.user, membership.organisation):
        return _mfa_first(request, membership.organisation)
    context = _page(request, membership)
    if request.htmx and request.htmx.target == "org-members":
        return render(request, "organisations/detail.html#members", context)
    return render(request, "organisations/detail.html", context)


def _back(slug: str) -> HttpResponse:
    return redirect("organisations:detail", slug=slug)


def _target(actor: Membership, member_id: int) -> Membership:
    target = (
        Membership.objects.filter(pk=member_id, organisation_id=actor.organisation_id)
        .select_related("user")
        .first()
    )
    if target is None:
        raise Http404("No such member.")
    return target


@login_required
@require_POST
def member_update(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    actor = selectors.membership_get(user=request.user, slug=slug, admin=True)
    target = _target(actor, member_id)
    form = MemberForm.for_member(target, request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, f"{target.user.email}: {' '.join(errors)}")
        return _back(slug)
    data = form.cleaned_data
    try:
        services.member_change_check(actor=actor, target=target, role=data["role"])
        services.member_set(
            organisation=actor.organisation,
            user=target.user,
            role=data["role"],
            limit_nanos=data["limit_usd"],
            limit_reset=data["limit_reset"],
            allowed_models=data["allowed_models"],
            actor=request.user,
        )
    except services.OrganisationRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Saved {target.user.email}.")
    return _back(slug)


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    """An admin removes a member, or anyone leaves (their own membership)."""
    actor = selectors.membership_get(user=request.user, slug=slug)
    target = _target(actor, member_id)
    leaving = target.pk == actor.pk
    try:
        if not leaving:
            if not actor.is_admin:
                raise Http404("No such member.")
            services.member_change_check(actor=actor, target=target)
        services.member_remove(organisation=actor.organisation, user=target.user, actor=request.user)
    except services.OrganisationRefused as error:
        messages.error(request, str(error))
        return _back(slug)
    if leaving:
        choose_context(request, "")
        messages.success(request, f"You left {actor.organisation.name}.")
        return redirect("/")
    messages.success(
        request, f"Removed {target.user.email}; their keys in {actor.organisation.name} are revoked."
    )
    return _back(slug)


@login_required
@require_POST
def invitation_create(request: HttpRequest, slug: str) -> HttpResponse:
    actor = selectors.membership_get(user=request.user, slug=slug, admin=True)
    form = InviteForm(request.POST)
    if not form.is_valid():
        context = _page(request, actor, invite_form=form)
        return render(request, "organisations/detail.html", context, status=400)
    try:
        services.member_change_check(actor=actor, target=None, role=form.cleaned_data["role"])
        invitation = invitations.invitation_create(
            organisation=actor.organisation,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            invited_by=request.user,
        )
    except services.OrganisationRefused as error:
        messages.error(request, str(error))
        return _back(slug)
    invitations.invitation_send(invitation=invitation, request=request)
    messages.success(request, f"Invitation sent to {invitation.email}.")
    return _back(slug)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    actor = selectors.membership_get(user=request.user, slug=slug, admin=True)
    invitation = Invitation.objects.filter(pk=invitation_id, organisation_id=actor.organisation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    if invitations.invitation_revoke(invitation=invitation, actor=request.user):
        messages.success(request, f"Invitation of {invitation.email} revoked; its link no longer works.")
    return _back(slug)


@login_required
@require_POST
def organisation_settings(request: HttpRequest, slug: str) -> HttpResponse:
    actor = selectors.membership_get(user=request.user, slug=slug, admin=True)
    if not actor.is_owner:
        raise Http404("No such organisation.")
    form = OrganisationSettingsForm(request.POST)
    if not form.is_valid():
        return render(
            request, "organisations/detail.html", _page(request, actor, settings_form=form), status=400
        )
    data = form.cleaned_data
    services.organisation_update(
        organisation=actor.organisation,
        actor=request.user,
        allowed_models=data["allowed_models"],
        default_limit_nanos=data["default_limit_usd"],
        default_limit_reset=data["default_limit_reset"],
        require_mfa=data["require_mfa"],
    )
    messages.success(request, "Organisation settings saved.")
    return _back(slug)


@login_required
@require_POST
def organisation_delete(request: HttpRequest, slug: str) -> HttpResponse:
    """Owners only, and only when the slug is typed again (the form's confirmation)."""
    actor = selectors.membership_get(user=request.user, slug=slug)
    if not actor.is_owner:
        raise Http404("No such organisation.")
    if request.POST.get("confirm", "").strip() != slug:
        messages.error(request, f"Type {slug} to confirm deleting the organisation.")
        return _back(slug)
    try:
        services.organisation_close(organisation=actor.organisation, actor=request.user)
    except services.OrganisationRefused as error:
        messages.error(request, str(error))
        return _back(slug)
    choose_context(request, "")
    messages.success(request, f"{actor.organisation.name} is deleted; its keys no longer work.")
    return redirect("/")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the invitation (and, signed out, asks to sign up or sign in first with the
    link to come back to); POST accepts it."""
    try:
        invitation = invitations.invitation_from_token(token)
    except invitations.InvitationInvalid as error:
        return render(request, "organisations/invitation.html", {"error": str(error)}, status=410)
    here = reverse("organisations:invitation", args=[token])
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect(f"{reverse('account_login')}?next={here}")
        return render(request, "organisations/invitation.html", {"invitation": invitation, "next": here})
    if request.method == "GET":
        return render(request, "organisations/invitation.html", {"invitation": invitation})
    try:
        membership = invitations.invitation_accept(invitation=invitation, user=request.user)
    except invitations.InvitationInvalid as error:
        return render(
            request,
            "organisations/invitation.html",
            {"invitation": invitation, "error": str(error)},
            status=403,
        )
    choose_context(request, membership.organisation.slug)
    messages.success(request, f"Welcome to {membership.organisation.name}.")
    return redirect("/")
