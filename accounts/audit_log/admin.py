"""Operators read the whole audit log here; nothing can be added, changed or deleted."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from accounts.audit_log import selectors
from accounts.audit_log.forms import AuditFilterForm
from accounts.audit_log.models import AuditEntry
from promptgrid.admin_audit import AuditedAdmin
from promptgrid.csv_export import csv_lines, csv_response


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_repr", "action", "target_type", "target_repr", "owner", "request_id")
    list_filter = ("action", ("created_at", admin.DateFieldListFilter), "target_type")
    search_fields = ("actor_repr", "action", "target_repr", "target_id", "request_id", "owner__email")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    readonly_fields = [field.name for field in AuditEntry._meta.fields]
    change_list_template = "admin/audit_log/auditentry/change_list.html"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}

    def get_urls(self) -> list[Any]:
        export = path(
            "export/", self.admin_site.admin_view(self.export_view), name="audit_log_auditentry_export"
        )
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """The whole log as CSV, filtered by actor, action and date range."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        everything = AuditEntry.objects.all()
        form = AuditFilterForm(request.GET or None, actions=selectors.actions_in(everything))
        if request.GET.get("download") and form.is_valid():
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            rows = selectors.csv_rows(selectors.entries_filtered(everything, form))
            return csv_response(request, csv_lines(rows), f"promptgrid-audit-all-{stamp}.csv")
        context = {
            **self.admin_site.each_context(request),
            "title": "Export the audit log",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/audit_log/auditentry/export.html", context)


# Who is staff, superuser or active is access too: the auth app's user admin, audited.
_User = get_user_model()
if admin.site.is_registered(_User):
    _base = type(admin.site.get_model_admin(_User))
    admin.site.unregister(_User)

    @admin.register(_User)
    class AuditedUserAdmin(AuditedAdmin, _base):  # type: ignore[valid-type,misc]
        pass
