from __future__ import annotations

from decimal import Decimal

from django import forms

from billing.alerts.urlsafety import UnsafeWebhookUrl, check_webhook_url


class AlertSettingsForm(forms.Form):
    low_balance_usd = forms.DecimalField(
        label="Email when the available balance falls below (USD)",
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(1_000_000),
        max_digits=16,
        decimal_places=9,
        help_text="Leave empty for no low-balance email.",
        widget=forms.NumberInput(attrs={"step": "0.01", "placeholder": "off"}),
    )
    limit_emails = forms.BooleanField(
        label="Email when a key (or a member's budget) reaches 80% and 100% of its limit", required=False
    )


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Webhook URL",
        max_length=500,
        assume_scheme="https",
        help_text="We POST balance.low, key.limit and member.budget events here, signed with its secret.",
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_webhook_url(url)
        except UnsafeWebhookUrl as exc:
            raise forms.ValidationError(str(exc)) from None
        return url
