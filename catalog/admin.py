from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import Count, QuerySet, URLField
from django.http import HttpRequest

from catalog.forms import ProviderAdminForm
from catalog.models import Endpoint, Model, ModelAlias, Provider
from catalog.pricelist import MAX_PRICE_PER_MILLION
from promptgrid.admin_audit import AuditedAdmin

PRICE_FIELDS = ("input_price", "output_price", "cache_read_price", "cache_write_price", "request_price")


class _BoundedPrices:
    """Prices typed in admin obey sync_prices' rules: not negative, not implausibly large."""

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in PRICE_FIELDS:
            kwargs.setdefault("min_value", Decimal(0))
            kwargs.setdefault("max_value", MAX_PRICE_PER_MILLION)
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]


@admin.register(Provider)
class ProviderAdmin(AuditedAdmin, admin.ModelAdmin):
    form = ProviderAdminForm
    list_display = ("name", "slug", "protocol", "base_url", "key", "enabled", "endpoint_count")
    list_filter = ("protocol", "enabled")
    search_fields = ("slug", "name", "base_url")
    list_editable = ("enabled",)
    fields = (
        "slug",
        "name",
        "protocol",
        "base_url",
        "api_key",
        "clear_api_key",
        "key",
        "enabled",
        "connect_timeout",
        "first_byte_timeout",
        "idle_timeout",
        "allowed_betas",
        "responses_api",
    )
    readonly_fields = ("key",)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Provider]:
        return super().get_queryset(request).annotate(_endpoints=Count("endpoints"))

    @admin.display(description="API key")
    def key(self, obj: Provider) -> str:
        """Where the key comes from, masked: the full value is never shown."""
        env_key = settings.PROVIDER_ENV.get(obj.slug, {}).get("api_key")
        if env_key:
            return "set in the environment"
        if obj.api_key:
            return obj.api_key_masked
        return "not needed" if obj.protocol == Provider.Protocol.MOCK else "none (endpoints not routable)"

    @admin.display(description="Endpoints", ordering="_endpoints")
    def endpoint_count(self, obj: Provider) -> int:
        return getattr(obj, "_endpoints", 0)


class EndpointInline(_BoundedPrices, admin.TabularInline):
    model = Endpoint
    extra = 0
    fields = (
        "provider",
        "upstream_model",
        "priority",
        "enabled",
        *PRICE_FIELDS,
        "context_length",
        "max_output_tokens",
    )


class ModelAliasInline(admin.TabularInline):
    model = ModelAlias
    extra = 0
    fields = ("name", "kind")


class ProviderListFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(p.slug, p.name) for p in Provider.objects.all()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Model]) -> QuerySet[Model]:
        if self.value():
            return queryset.filter(endpoints__provider__slug=self.value()).distinct()
        return queryset


@admin.register(Model)
class ModelAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("slug", "name", "context_length", "max_output_tokens", "enabled", "endpoint_count")
    list_filter = ("enabled", ProviderListFilter)
    search_fields = ("slug", "name", "description")
    list_editable = ("enabled",)
    inlines = [EndpointInline, ModelAliasInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Model]:
        return super().get_queryset(request).annotate(_endpoints=Count("endpoints"))

    @admin.display(description="Endpoints", ordering="_endpoints")
    def endpoint_count(self, obj: Model) -> int:
        return getattr(obj, "_endpoints", 0)


@admin.register(Endpoint)
class EndpointAdmin(AuditedAdmin, _BoundedPrices, admin.ModelAdmin):
    list_display = ("model", "provider", "upstream_model", "priority", "enabled", *PRICE_FIELDS)
    list_editable = ("priority", "enabled", *PRICE_FIELDS)
    list_filter = ("provider", "enabled", "model__enabled")
    search_fields = ("model__slug", "model__name", "upstream_model", "provider__slug")
    list_select_related = ("model", "provider")
    autocomplete_fields = ("model",)


@admin.register(ModelAlias)
class ModelAliasAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ("name", "model", "kind")
    list_filter = ("kind",)
    search_fields = ("name", "model__slug")
    list_select_related = ("model",)
    autocomplete_fields = ("model",)
