"""Reading the audit log: filtered lists for a user, an organisation or an operator, and CSV rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from accounts.audit_log.forms import AuditFilterForm
from accounts.audit_log.models import AuditEntry

CSV_HEADER = [
    "created_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target",
    "old",
    "new",
    "owner_id",
    "organisation_id",
    "request_id",
]


def entries_filtered(queryset: QuerySet[AuditEntry], form: AuditFilterForm) -> QuerySet[AuditEntry]:
    """``queryset`` narrowed by a bound filter form; invalid fields are ignored (the form shows why)."""
    if not form.is_bound:
        return queryset
    form.is_valid()  # cleaned_data keeps the fields that were valid
    data = form.cleaned_data
    if data.get("actor"):
        queryset = queryset.filter(actor_repr__icontains=data["actor"])
    if data.get("action"):
        queryset = queryset.filter(action=data["action"])
    if data.get("date_from"):
        queryset = queryset.filter(created_at__gte=datetime.combine(data["date_from"], time.min, tzinfo=UTC))
    if data.get("date_to"):
        end = datetime.combine(data["date_to"], time.min, tzinfo=UTC) + timedelta(days=1)
        queryset = queryset.filter(created_at__lt=end)
    return queryset


def actions_in(queryset: QuerySet[AuditEntry]) -> list[str]:
    return sorted(set(queryset.order_by().values_list("action", flat=True).distinct()[:200]))


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True)


def csv_rows(queryset: QuerySet[AuditEntry]) -> Iterator[list[Any]]:
    """The header, then one row per entry, newest first; memory stays flat (a server-side cursor)."""
    yield CSV_HEADER
    for entry in queryset.order_by("-created_at", "-id").iterator(chunk_size=2000):
        yield [
            entry.created_at.isoformat(),
            entry.actor_repr,
            entry.action,
            entry.target_type,
            entry.target_id,
            entry.target_repr,
            _json(entry.old),
            _json(entry.new),
            entry.owner_id or "",
            entry.organisation_id or "",
            entry.request_id,
        ]
