from __future__ import annotations

from typing import Any

from django import forms


class AuditFilterForm(forms.Form):
    """Filters for the log and its CSV export: actor, action and a date range (UTC days)."""

    actor = forms.CharField(required=False, max_length=200, label="Actor")
    action = forms.CharField(required=False, max_length=64, label="Action")
    date_from = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        input_formats=["%Y-%m-%d"],
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}), input_formats=["%Y-%m-%d"]
    )

    def __init__(self, *args: Any, actions: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if actions is not None:
            self.fields["action"] = forms.ChoiceField(
                required=False, label="Action", choices=[("", "All actions"), *((a, a) for a in actions)]
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned
