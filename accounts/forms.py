"""Forms of the keys and settings pages. Money is entered in USD and stored in nanos."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import ApiKey, UserSettings
from accounts.selectors import enabled_model_slugs
from promptgrid.money import nanos_to_usd, usd_to_nanos

MAX_LIMIT_USD = Decimal("1000000")
_SPLIT = re.compile(r"[\s,]+")


def parse_model_list(raw: str) -> list[str]:
    """Split a comma- or newline-separated list of model ids, dropping blanks and repeats."""
    seen: dict[str, None] = {}
    for item in _SPLIT.split(raw or ""):
        if item:
            seen.setdefault(item, None)
    return list(seen)


def check_allowed_models(
    models: list[str], *, already_allowed: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """Return the unknown ids among ``models``.

    Ids the key already allows stay valid even if the catalog has since disabled
    them, so editing a key's name does not force editing its allowlist.
    """
    new = [m for m in models if m not in set(already_allowed)]
    if not new:
        return []
    known = enabled_model_slugs()
    return [m for m in new if m not in known]


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    limit_usd = forms.DecimalField(
        label="Spend limit (USD)",
        required=False,
        min_value=Decimal("0"),
        max_value=MAX_LIMIT_USD,
        decimal_places=6,
        help_text="Leave empty for no limit.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "placeholder": "no limit"}),
    )
    limit_reset = forms.ChoiceField(
        label="Limit resets",
        choices=ApiKey.Reset.choices,
        initial=ApiKey.Reset.NEVER,
        help_text="Daily, weekly (Monday) and monthly limits reset at midnight UTC.",
    )
    expires_at = forms.DateTimeField(
        label="Expires (UTC)",
        required=False,
        help_text="Leave empty for a key that does not expire.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    rpm_limit = forms.IntegerField(
        label="Requests per minute",
        required=False,
        min_value=1,
        max_value=1_000_000,
        widget=forms.NumberInput(attrs={"placeholder": "no limit"}),
    )
    tpm_limit = forms.IntegerField(
        label="Tokens per minute",
        required=False,
        min_value=1,
        max_value=2_000_000_000,
        widget=forms.NumberInput(attrs={"placeholder": "no limit"}),
    )
    allowed_models = forms.CharField(
        label="Allowed models",
        required=False,
        help_text="Model ids separated by commas, e.g. openai/gpt-4o-mini. Leave empty to allow all.",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "all models"}),
    )

    def __init__(self, *args: Any, key: ApiKey | None = None, **kwargs: Any) -> None:
        self.key = key
        if key is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": key.name,
                "limit_usd": None if key.limit_nanos is None else nanos_to_usd(key.limit_nanos).normalize(),
                "limit_reset": key.limit_reset,
                "expires_at": key.expires_at,
                "rpm_limit": key.rpm_limit,
                "tpm_limit": key.tpm_limit,
                "allowed_models": ", ".join(key.allowed_models or []),
            }
        super().__init__(*args, **kwargs)
        if key is None:
            self.fields["management"] = forms.BooleanField(
                label="Management key",
                required=False,
                help_text="Can create and manage keys through the API, and cannot call models.",
            )

    def clean_expires_at(self):
        value = self.cleaned_data.get("expires_at")
        current = self.key.expires_at if self.key is not None else None
        if value is not None and current is not None and _minute(value) == _minute(current):
            return current  # shown to the minute; left as it was (even if already past)
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Choose a time in the future.")
        return value

    def clean_allowed_models(self) -> list[str]:
        models = parse_model_list(self.cleaned_data.get("allowed_models", ""))
        unknown = check_allowed_models(models, already_allowed=self.key.allowed_models if self.key else ())
        if unknown:
            raise forms.ValidationError(f"Unknown or disabled model: {', '.join(unknown)}.")
        return models

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned values as ``api_key_create``/``api_key_update`` arguments."""
        data = self.cleaned_data
        limit = data.get("limit_usd")
        return {
            "name": data["name"],
            "limit_nanos": usd_to_nanos(limit) if limit is not None else None,
            "limit_reset": data["limit_reset"],
            "expires_at": data.get("expires_at"),
            "rpm_limit": data.get("rpm_limit"),
            "tpm_limit": data.get("tpm_limit"),
            "allowed_models": data["allowed_models"],
        }


class UserSettingsForm(forms.ModelForm):
    log_retention_days = forms.IntegerField(
        label="Keep logged prompts for (days)", min_value=1, max_value=3650
    )

    class Meta:
        model = UserSettings
        fields = ["log_prompts", "log_retention_days"]
        labels = {"log_prompts": "Log prompts and completions"}
        help_texts = {
            "log_prompts": "Off by default. When on, request and response text is stored for your "
            "activity log and deleted after the retention period.",
        }
