"""Forms of the organisation pages; amounts are USD typed to the nano (``parse_usd``)."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.organisations.models import Membership, Reset
from promptgrid.money import parse_usd

MAX_ALLOWED_MODELS = 200


def _usd_or_none(raw: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return parse_usd(raw.removeprefix("$"))
    except ValueError as error:
        raise forms.ValidationError(str(error)) from None


def _models(raw: str) -> list[str]:
    slugs = sorted({part.strip() for part in (raw or "").replace("\n", ",").split(",") if part.strip()})
    if len(slugs) > MAX_ALLOWED_MODELS:
        raise forms.ValidationError(f"At most {MAX_ALLOWED_MODELS} models.")
    if any(len(slug) > 200 for slug in slugs):
        raise forms.ValidationError("A model id is at most 200 characters.")
    return slugs


class OrganisationCreateForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class MemberForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
    limit_usd = forms.CharField(required=False, max_length=40, label="Budget (USD, empty for none)")
    limit_reset = forms.ChoiceField(choices=Reset.choices, initial=Reset.NEVER, label="Resets")
    allowed_models = forms.CharField(
        required=False, max_length=20_000, label="Allowed models (comma separated, empty for all)"
    )

    def clean_limit_usd(self) -> int | None:
        return _usd_or_none(self.cleaned_data.get("limit_usd", ""))

    def clean_allowed_models(self) -> list[str]:
        return _models(self.cleaned_data.get("allowed_models", ""))

    @classmethod
    def for_member(cls, membership: Membership, data: Any = None) -> MemberForm:
        from promptgrid.money import nanos_to_usd

        initial = {
            "role": membership.role,
            "limit_usd": ""
            if membership.limit_nanos is None
            else f"{nanos_to_usd(membership.limit_nanos):f}",
            "limit_reset": membership.limit_reset,
            "allowed_models": ", ".join(membership.allowed_models or []),
        }
        return cls(data, initial=initial, prefix=f"m{membership.pk}")


class OrganisationSettingsForm(forms.Form):
    allowed_models = forms.CharField(
        required=False, max_length=20_000, label="Models every key may call (comma separated, empty for all)"
    )
    default_limit_usd = forms.CharField(required=False, max_length=40, label="New members' budget (USD)")
    default_limit_reset = forms.ChoiceField(choices=Reset.choices, initial=Reset.NEVER, label="Resets")
    require_mfa = forms.BooleanField(
        required=False, label="Members must sign in with two-factor authentication"
    )

    def clean_default_limit_usd(self) -> int | None:
        return _usd_or_none(self.cleaned_data.get("default_limit_usd", ""))

    def clean_allowed_models(self) -> list[str]:
        return _models(self.cleaned_data.get("allowed_models", ""))
