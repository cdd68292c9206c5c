"""Operators see alert settings, webhooks (never a secret: none is stored) and deliveries."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from billing.alerts.models import AlertEmail, AlertSettings, WebhookDelivery, WebhookEndpoint


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AlertSettings)
class AlertSettingsAdmin(_ReadOnly):
    list_display = ("account", "low_balance_nanos", "limit_emails")
    list_select_related = ("account__user",)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    list_display = ("account", "url", "enabled", "created_at")
    list_select_related = ("account__user",)
    search_fields = ("url",)
    exclude = ("nonce",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    list_display = (
        "created_at",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "event_id",
    )
    list_filter = ("status", "event_type")
    search_fields = ("event_id",)
    list_select_related = ("endpoint__account__user",)


@admin.register(AlertEmail)
class AlertEmailAdmin(_ReadOnly):
    list_display = ("created_at", "subject", "sent_at", "attempts", "last_error")
    list_filter = (("sent_at", admin.EmptyFieldListFilter),)
    search_fields = ("subject",)
