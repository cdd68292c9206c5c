"""Admin for money: everything read-only except through billing services.

Ledger entries and holds cannot be added, changed or deleted here; credits are
granted with the "Grant credits" action (recorded with the admin as actor), and
redeem codes are created in batches whose codes are shown once.
"""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from billing import services
from billing.forms import GrantForm, RedeemBatchForm
from billing.models import CreditAccount, Hold, LedgerEntry, Payment, RedeemCode, Shortfall
from promptgrid.money import format_usd, usd_to_nanos


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "organisation", "balance", "held", "available", "created_at")
    search_fields = ("user__email", "user__username", "organisation__name", "organisation__slug")
    readonly_fields = ("user", "organisation", "balance_nanos", "held_nanos", "created_at")
    list_select_related = ("user", "organisation")
    actions = ["grant_credits"]

    @admin.display(description="Balance", ordering="balance_nanos")
    def balance(self, obj: CreditAccount) -> str:
        return format_usd(obj.balance_nanos, 6)

    @admin.display(description="Held", ordering="held_nanos")
    def held(self, obj: CreditAccount) -> str:
        return format_usd(obj.held_nanos, 6)

    @admin.display(description="Available")
    def available(self, obj: CreditAccount) -> str:
        return format_usd(obj.available_nanos, 6)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Actions need "change" permission by default; granting needs its own check.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_grant_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or request.user.has_perm("billing.add_ledgerentry")

    @admin.action(description="Grant credits…", permissions=["grant"])
    def grant_credits(self, request: HttpRequest, queryset: QuerySet[CreditAccount]) -> HttpResponse | None:
        form = GrantForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            nanos = usd_to_nanos(form.cleaned_data["amount"])
            for account in queryset.order_by("pk"):
                services.credits_grant(
                    account=account, amount_nanos=nanos, memo=form.cleaned_data["memo"], actor=request.user
                )
            self.message_user(
                request, f"Granted {format_usd(nanos, 6)} to {queryset.count()} account(s).", messages.SUCCESS
            )
            return None
        return TemplateResponse(
            request,
            "admin/billing/grant_credits.html",
            {
                **self.admin_site.each_context(request),
                "title": "Grant credits",
                "form": form,
                "accounts": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "kind", "amount", "generation_id", "memo", "actor")
    list_filter = (
        "kind",
        ("created_at", admin.DateFieldListFilter),
        ("account__user", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("account__user__email", "generation_id", "idempotency_key", "memo")
    date_hierarchy = "created_at"
    list_select_related = ("account__user", "actor")

    @admin.display(description="Amount", ordering="amount_nanos")
    def amount(self, obj: LedgerEntry) -> str:
        return format_usd(obj.amount_nanos, 6)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "account",
        "api_key",
        "amount_nanos",
        "status",
        "generation_id",
        "created_at",
        "expires_at",
    )
    list_filter = ("status",)
    search_fields = ("generation_id", "account__user__email")


@admin.register(Shortfall)
class ShortfallAdmin(ReadOnlyAdmin):
    """Usage not charged in full (``audit_ledger`` lists the open ones). Charge it by hand
    with an adjustment if it should be, then mark it resolved."""

    list_display = ("created_at", "kind", "generation_id", "account", "amount_nanos", "resolved_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("generation_id", "account__user__email")
    actions = ["mark_resolved"]

    @admin.action(description="Mark resolved (settled by hand or written off)")
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = services.shortfalls_resolve(
            ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
        self.message_user(request, f"{count} shortfall(s) marked resolved.", messages.SUCCESS)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = (
        "stripe_session_id",
        "account",
        "amount_cents",
        "currency",
        "status",
        "created_at",
        "credited_at",
    )
    list_filter = ("status",)
    search_fields = ("stripe_session_id", "account__user__email")


@admin.register(RedeemCode)
class RedeemCodeAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "batch",
        "value",
        "created_by",
        "created_at",
        "expires_at",
        "redeemed_by",
        "redeemed_at",
    )
    list_filter = ("batch", ("redeemed_at", admin.EmptyFieldListFilter))
    search_fields = ("batch",)
    change_list_template = "admin/billing/redeemcode/change_list.html"

    @admin.display(description="Value", ordering="value_nanos")
    def value(self, obj: RedeemCode) -> str:
        return format_usd(obj.value_nanos, 6)

    def get_urls(self) -> list[Any]:
        custom = [
            path(
                "create-batch/",
                self.admin_site.admin_view(self.create_batch_view),
                name="billing_redeemcode_create_batch",
            )
        ]
        return custom + super().get_urls()

    def create_batch_view(self, request: HttpRequest) -> HttpResponse:
        if not (request.user.is_superuser or request.user.has_perm("billing.add_redeemcode")):
            return redirect("admin:index")
        form = RedeemBatchForm(request.POST or None)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Create redeem codes",
            "form": form,
            "opts": self.model._meta,
        }
        if request.method == "POST" and form.is_valid():
            created = services.redeem_codes_create(
                count=form.cleaned_data["count"],
                value_nanos=usd_to_nanos(form.cleaned_data["value"]),
                created_by=request.user,
                expires_at=form.cleaned_data["expires_at"],
                batch=form.cleaned_data["batch"],
            )
            csv_text = redeem_batch_csv(created)
            if request.POST.get("download") == "csv":
                response = HttpResponse(csv_text, content_type="text/csv")
                response["Content-Disposition"] = f'attachment; filename="redeem-codes-{created.batch}.csv"'
                return response
            context.update(
                {
                    "created": created,
                    "value_display": format_usd(created.value_nanos, 2),
                    "csv_data_url": "data:text/csv;base64," + base64.b64encode(csv_text.encode()).decode(),
                }
            )
        return TemplateResponse(request, "admin/billing/redeemcode/create_batch.html", context)


def redeem_batch_csv(created: services.RedeemBatch) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code", "value_usd", "batch", "expires_at"])
    value = str(format_usd(created.value_nanos, 2)).lstrip("$")
    expires = created.expires_at.isoformat() if created.expires_at else ""
    for code in created.codes:
        writer.writerow([code, value, created.batch, expires])
    return out.getvalue()
