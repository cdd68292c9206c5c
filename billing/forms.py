from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings


class RedeemForm(forms.Form):
    code = forms.CharField(max_length=64, strip=True, widget=forms.TextInput(attrs={"autocomplete": "off"}))


class BuyForm(forms.Form):
    amount = forms.DecimalField(max_digits=9, decimal_places=2, label="Amount (USD)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bounds come from settings at request time, not at import time.
        low, high = settings.STRIPE_TOPUP_MIN_USD, settings.STRIPE_TOPUP_MAX_USD
        self.fields["amount"] = forms.DecimalField(
            max_digits=9,
            decimal_places=2,
            min_value=low,
            max_value=high,
            initial=max(low, min(high, Decimal("20.00"))),
            label="Amount (USD)",
            widget=forms.NumberInput(attrs={"min": str(low), "max": str(high), "step": "0.01"}),
        )


class GrantForm(forms.Form):
    """Admin action: grant an amount to the selected accounts."""

    amount = forms.DecimalField(
        max_digits=14, decimal_places=9, min_value=Decimal("0.000000001"), label="Amount (USD)"
    )
    memo = forms.CharField(max_length=500)


class RedeemBatchForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=10_000, initial=10)
    value = forms.DecimalField(
        max_digits=14, decimal_places=9, min_value=Decimal("0.000000001"), label="Value (USD)"
    )
    expires_at = forms.DateTimeField(required=False, help_text="Optional, UTC: YYYY-MM-DD HH:MM")
    batch = forms.CharField(max_length=100, required=False, help_text="Optional name; generated if empty")
