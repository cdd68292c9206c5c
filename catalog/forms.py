from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from catalog.models import Provider


def formfield(db_field: models.Field, **kwargs: Any) -> forms.Field | None:
    """Form fields for catalog models; scheme-less URLs mean https (Django 6's default)."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class ProviderAdminForm(forms.ModelForm):
    """The API key is write-only: never rendered back, kept when the field is left blank."""

    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the stored key. "
        "An environment variable (e.g. OPENAI_API_KEY) overrides it.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored API key")

    class Meta:
        model = Provider
        fields = ["slug", "name", "protocol", "base_url", "api_key", "enabled"]
        formfield_callback = formfield

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("clear_api_key"):
            cleaned["api_key"] = ""
        elif not cleaned.get("api_key"):
            # Blank means "unchanged": keep what is stored (empty for a new provider).
            cleaned["api_key"] = self.instance.api_key if self.instance.pk else ""
        return cleaned
