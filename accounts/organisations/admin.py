"""Admin: organisations with their members, roles and spend, and invitations (read-only).

Members are changed through ``accounts.organisations.services`` (the last-owner rule, key
revocation), so the inline shows them and their spend but does not edit them; use
``manage.py org_member`` or the organisation page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet, Sum
from django.http import HttpRequest

from accounts.organisations.models import Invitation, Membership, Organisation
from promptgrid.admin_audit import AuditedAdmin
from promptgrid.money import format_usd


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    can_delete = False
    fields = ["member", "role", "budget", "spend", "period_spend", "held"]
    readonly_fields = fields

    @admin.display(description="member")
    def member(self, member: Membership) -> str:
        return member.user.email or str(member.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="budget")
    def budget(self, member: Membership) -> str:
        if member.limit_nanos is None:
            return "unlimited"
        return f"{format_usd(member.limit_nanos)} ({member.get_limit_reset_display().lower()})"

    @admin.display(description="spend to date")
    def spend(self, member: Membership) -> str:
        return format_usd(member.usage_nanos)

    @admin.display(description="spend this period")
    def period_spend(self, member: Membership) -> str:
        return format_usd(member.period_usage_nanos)

    @admin.display(description="in flight")
    def held(self, member: Membership) -> str:
        return format_usd(member.held_nanos)


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin, admin.ModelAdmin):  # budgets and allowlists: audited
    list_display = ["name", "slug", "member_count", "balance", "spend", "created_at", "closed_at"]
    search_fields = ["name", "slug", "memberships__user__email"]
    readonly_fields = ["slug", "created_at", "balance"]
    fields = [
        "name",
        "slug",
        "balance",
        "allowed_models",
        "default_limit_nanos",
        "default_limit_reset",
        "require_mfa",
        "created_at",
    ]
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organisation]:
        from django.db.models import Count

        return (
            super()
            .get_queryset(request)
            .select_related("credit_account")
            .annotate(members=Count("memberships", distinct=True), spent=Sum("memberships__usage_nanos"))
        )

    @admin.display(description="members", ordering="members")
    def member_count(self, organisation: Organisation) -> int:
        return organisation.members

    @admin.display(description="balance")
    def balance(self, organisation: Organisation) -> str:
        account = getattr(organisation, "credit_account", None)
        return format_usd(account.balance_nanos if account else 0)

    @admin.display(description="members' spend", ordering="spent")
    def spend(self, organisation: Organisation) -> str:
        return format_usd(organisation.spent or 0)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["member", "organisation", "role", "spend", "period_spend", "limit"]
    list_filter = ["role", "limit_reset"]
    search_fields = ["user__email", "organisation__name", "organisation__slug"]
    list_select_related = ["user", "organisation"]
    readonly_fields = [field.name for field in Membership._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="member", ordering="user__email")
    def member(self, member: Membership) -> str:
        return member.user.email or str(member.user)

    @admin.display(description="spend to date", ordering="usage_nanos")
    def spend(self, member: Membership) -> str:
        return format_usd(member.usage_nanos)

    @admin.display(description="spend this period")
    def period_spend(self, member: Membership) -> str:
        return format_usd(member.period_usage_nanos)

    @admin.display(description="budget")
    def limit(self, member: Membership) -> str:
        return "unlimited" if member.limit_nanos is None else format_usd(member.limit_nanos)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organisation", "role", "status", "created_at", "expires_at"]
    search_fields = ["email", "organisation__name"]
    list_select_related = ["organisation"]
    readonly_fields = [field.name for field in Invitation._meta.fields]
    exclude = ["nonce"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
