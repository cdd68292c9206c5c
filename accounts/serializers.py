"""Shapes of the key APIs, following OpenRouter's ``/api/v1/key`` and ``/api/v1/keys``.

Amounts are USD numbers converted from exact nanos at this boundary only.
``limit_reset`` is ``null`` for a total (never-resetting) limit, as OpenRouter has it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from accounts.forms import MAX_LIMIT_USD, check_allowed_models
from accounts.models import ApiKey
from accounts.selectors import KeyUsage
from promptgrid.money import nanos_to_usd, usd_to_nanos

_RESETS = [ApiKey.Reset.DAILY, ApiKey.Reset.WEEKLY, ApiKey.Reset.MONTHLY]


def usd(nanos: int | None) -> float | None:
    """Nanos as a JSON number of USD (display only; nothing is computed from it)."""
    return None if nanos is None else float(nanos_to_usd(nanos))


def _reset_out(reset: str) -> str | None:
    return None if reset == ApiKey.Reset.NEVER else reset


def rate_limit_out(key: Any) -> dict[str, Any]:
    return {
        "requests": key.rpm_limit if key.rpm_limit is not None else -1,
        "tokens": key.tpm_limit if key.tpm_limit is not None else -1,
        "interval": "1m",
        "note": "-1 means no per-key limit.",
    }


def usage_fields(usage: KeyUsage) -> dict[str, Any]:
    return {
        "limit": usd(usage.limit_nanos),
        "limit_remaining": usd(usage.remaining_nanos),
        "limit_reset": _reset_out(usage.limit_reset),
        "usage": usd(usage.total_nanos),
        "usage_daily": usd(usage.daily_nanos),
        "usage_weekly": usd(usage.weekly_nanos),
        "usage_monthly": usd(usage.monthly_nanos),
    }


def key_out(key: ApiKey, usage: KeyUsage) -> dict[str, Any]:
    """One key in ``/api/v1/keys`` (never its secret: only the masked label and the hash)."""
    return {
        "id": key.pk,
        "hash": key.secret_hash,
        "name": key.name,
        "label": key.masked,
        "disabled": key.disabled,
        "status": key.status,
        "is_management_key": key.is_management,
        **usage_fields(usage),
        "rate_limit": rate_limit_out(key),
        "allowed_models": list(key.allowed_models or []),
        "created_at": key.created_at,
        "updated_at": key.updated_at,
        "last_used_at": key.last_used_at,
        "expires_at": key.expires_at,
        "include_byok_in_limit": False,
        "creator_user_id": str(key.user_id),
    }


class KeyOutSerializer(serializers.Serializer):
    """Documentation of ``key_out`` for the OpenAPI schema."""

    id = serializers.IntegerField()
    hash = serializers.CharField(help_text="SHA-256 of the secret; names the key in /keys/{ref}.")
    name = serializers.CharField()
    label = serializers.CharField(help_text="Masked secret, e.g. pg-v1-a1b…9xz.")
    disabled = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["active", "disabled", "expired", "revoked"])
    is_management_key = serializers.BooleanField()
    limit = serializers.FloatField(allow_null=True)
    limit_remaining = serializers.FloatField(allow_null=True)
    limit_reset = serializers.ChoiceField(choices=_RESETS, allow_null=True)
    usage = serializers.FloatField()
    usage_daily = serializers.FloatField()
    usage_weekly = serializers.FloatField()
    usage_monthly = serializers.FloatField()
    rate_limit = serializers.DictField()
    allowed_models = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    include_byok_in_limit = serializers.BooleanField()
    creator_user_id = serializers.CharField()


class KeyListSerializer(serializers.Serializer):
    data = KeyOutSerializer(many=True)


class KeyDetailSerializer(serializers.Serializer):
    data = KeyOutSerializer()


class KeyCreatedSerializer(serializers.Serializer):
    data = KeyOutSerializer()
    key = serializers.CharField(help_text="The secret. Returned only in this response.")


class KeyDeletedSerializer(serializers.Serializer):
    deleted = serializers.BooleanField()


class CurrentKeyDataSerializer(serializers.Serializer):
    label = serializers.CharField()
    name = serializers.CharField()
    usage = serializers.FloatField()
    usage_daily = serializers.FloatField()
    usage_weekly = serializers.FloatField()
    usage_monthly = serializers.FloatField()
    limit = serializers.FloatField(allow_null=True)
    limit_remaining = serializers.FloatField(allow_null=True)
    limit_reset = serializers.ChoiceField(choices=_RESETS, allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    is_free_tier = serializers.BooleanField()
    is_management_key = serializers.BooleanField()
    is_provisioning_key = serializers.BooleanField(help_text="OpenRouter's old name of is_management_key.")
    rate_limit = serializers.DictField()
    allowed_models = serializers.ListField(child=serializers.CharField())
    # The rest of OpenRouter's key metadata, required by its SDK; no BYOK, budgets,
    # workspaces or free tier here, so zeros, empty lists and nulls.
    allowed_data_regions = serializers.ListField(child=serializers.CharField())
    budgets = serializers.ListField(child=serializers.DictField())
    byok_usage = serializers.FloatField()
    byok_usage_daily = serializers.FloatField()
    byok_usage_weekly = serializers.FloatField()
    byok_usage_monthly = serializers.FloatField()
    include_byok_in_limit = serializers.BooleanField()
    creator_user_id = serializers.CharField(allow_null=True)
    effective_budget = serializers.DictField(allow_null=True)
    free_model_daily_requests = serializers.DictField()
    organization_id = serializers.CharField(allow_null=True)
    workspace_id = serializers.CharField(allow_null=True)


class CurrentKeySerializer(serializers.Serializer):
    data = CurrentKeyDataSerializer()


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    """What is wrong with ``value``'s JSON type for ``field``, or None. DRF would coerce
    ``0`` to ``"0"`` or ``"5"`` to ``5``; the API takes each field in its documented type."""
    if value is None:
        return None if field.allow_null else "may not be null"
    if isinstance(field, serializers.BooleanField):
        ok, name = isinstance(value, bool), "a boolean"
    elif isinstance(field, serializers.IntegerField):
        # JSON's 5.0 is the integer 5 (JSON Schema agrees).
        integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        ok, name = integral and not isinstance(value, bool), "an integer"
    elif isinstance(field, serializers.DecimalField):
        ok, name = isinstance(value, int | float) and not isinstance(value, bool), "a number"
    elif isinstance(field, serializers.ListField):
        ok, name = isinstance(value, list), "an array"
        if ok and field.child is not None:
            for item in value:
                if _json_type_error(field.child, item):
                    return "must be an array of strings"
    else:  # CharField, ChoiceField, DateTimeField: strings in JSON
        ok, name = isinstance(value, str), "a string"
    return None if ok else f"must be {name}"


class _StrictJSONSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            errors = {
                name: error
                for name, field in self.fields.items()
                if name in data and (error := _json_type_error(field, data[name]))
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class _OptionalDateTimeField(serializers.DateTimeField):
    """A date-time, or null; an empty string (what a cleared form field sends) means null."""

    def to_internal_value(self, value: Any) -> Any:
        return None if value == "" else super().to_internal_value(value)


class _KeyWriteSerializer(_StrictJSONSerializer):
    """Fields shared by create and update; ``limit`` in USD, stored exactly in nanos."""

    name = serializers.CharField(min_length=1, max_length=100, trim_whitespace=True)
    limit = serializers.DecimalField(
        max_digits=16,  # 7 whole digits (MAX_LIMIT_USD) and 9 decimals
        decimal_places=9,  # to the nano, as every amount; finer is refused, never rounded
        min_value=Decimal("0"),
        max_value=MAX_LIMIT_USD,
        allow_null=True,
        required=False,
        coerce_to_string=False,
    )
    limit_reset = serializers.ChoiceField(choices=_RESETS, allow_null=True, required=False)
    expires_at = _OptionalDateTimeField(allow_null=True, required=False)
    rate_limit_rpm = serializers.IntegerField(
        min_value=1, max_value=1_000_000, allow_null=True, required=False
    )
    rate_limit_tpm = serializers.IntegerField(
        min_value=1, max_value=2_000_000_000, allow_null=True, required=False
    )
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=200), allow_empty=True, required=False, max_length=500
    )

    def validate_expires_at(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("must be in the future")
        return value

    def validate_allowed_models(self, value: list[str]) -> list[str]:
        key = self.context.get("key")
        models = list(dict.fromkeys(m.strip() for m in value if m.strip()))
        unknown = check_allowed_models(models, already_allowed=key.allowed_models if key else ())
        if unknown:
            raise serializers.ValidationError(f"unknown or disabled model: {', '.join(unknown)}")
        return models

    def service_kwargs(self) -> dict[str, Any]:
        """Only the fields the client sent, as ``accounts.services`` arguments."""
        data = self.validated_data
        out: dict[str, Any] = {}
        if "name" in data:
            out["name"] = data["name"]
        if "limit" in data:
            out["limit_nanos"] = usd_to_nanos(data["limit"]) if data["limit"] is not None else None
        if "limit_reset" in data:
            out["limit_reset"] = data["limit_reset"] or ApiKey.Reset.NEVER
        if "expires_at" in data:
            out["expires_at"] = data["expires_at"]
        if "rate_limit_rpm" in data:
            out["rpm_limit"] = data["rate_limit_rpm"]
        if "rate_limit_tpm" in data:
            out["tpm_limit"] = data["rate_limit_tpm"]
        if "allowed_models" in data:
            out["allowed_models"] = data["allowed_models"]
        if "disabled" in data:
            out["disabled"] = data["disabled"]
        return out


class KeyCreateSerializer(_KeyWriteSerializer):
    pass


class KeyUpdateSerializer(_KeyWriteSerializer):
    name = serializers.CharField(min_length=1, max_length=100, trim_whitespace=True, required=False)
    disabled = serializers.BooleanField(required=False)

    def validate_expires_at(self, value: Any) -> Any:
        key = self.context.get("key")
        if key is not None and value == key.expires_at:
            return value
        return super().validate_expires_at(value)
