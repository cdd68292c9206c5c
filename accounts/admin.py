"""Admin for keys (read-only, with revoke/disable/enable actions) and per-user settings.

Keys cannot be added here: a secret must be shown exactly once to its owner, which
the keys page, the API and ``create_api_key`` do. Changes go through
``accounts.services`` so this process's cached key lookups are dropped at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.models import ApiKey, UserSettings
from promptgrid.admin_audit import AuditedAdmin
from promptgrid.money import format_usd


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "organisation",
        "masked",
        "kind",
        "status",
        "spend",
        "created_at",
        "last_used_at",
    ]
    list_filter = ["kind", "disabled", "limit_reset"]
    search_fields = ["name", "masked", "user__email", "organisation__slug"]
    list_select_related = ["user", "organisation"]
    actions = ["revoke_keys", "disable_keys", "enable_keys"]
    readonly_fields = [field.name for field in ApiKey._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Viewable, not editable in a form; the actions below change keys.
        return False

    @admin.display(description="spend to date")
    def spend(self, key: ApiKey) -> str:
        return format_usd(key.usage_nanos)

    def _each(self, request: HttpRequest, queryset: QuerySet[ApiKey], change: Any, verb: str) -> None:
        done = 0
        for key in queryset:
            try:
                change(key=key, actor=request.user)
                done += 1
            except services.KeyRevoked:
                continue
        self.message_user(request, f"{done} key(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Revoke selected keys (cannot be undone)", permissions=["view"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._each(request, queryset, services.api_key_revoke, "revoked")

    @admin.action(description="Disable selected keys", permissions=["view"])
    def disable_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._each(request, queryset, services.api_key_disable, "disabled")

    @admin.action(description="Enable selected keys", permissions=["view"])
    def enable_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._each(request, queryset, services.api_key_enable, "enabled")


@admin.register(UserSettings)
class UserSettingsAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["user", "log_prompts", "log_retention_days", "rpm_limit"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]

    def save_model(self, request: HttpRequest, obj: UserSettings, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Key lookups carry the user's rate limit and logging choice.
        services.user_keys_forget(user=obj.user)
