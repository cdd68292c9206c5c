"""The audit log: who changed what about money and access, from what to what, when.

Entries are append-only like the ledger: a record of what happened is only useful
if whoever made a change cannot quietly unmake its record. Three layers refuse
changes: ``AuditEntry.save``/``delete``, the queryset, and the database triggers
(``db_triggers``, which also catch raw SQL).
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class AuditImmutable(Exception):
    """Raised on any attempt to change or remove an audit entry."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditImmutable("audit entries are append-only")

    def delete(self) -> NoReturn:
        raise AuditImmutable("audit entries are append-only")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> NoReturn:
        raise AuditImmutable("audit entries are append-only")

    def visible_to_user(self, user: Any) -> AuditEntryQuerySet:
        """A user's personal log: changes to their own account and keys, made by anyone."""
        return self.filter(owner=user, organisation_id__isnull=True)


class AuditEntry(models.Model):
    # PROTECT, never SET_NULL: nulling the column would be an UPDATE, which the trigger refuses.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Who, as it read then ("alice@example.com", "stripe", "system"): users can change their email.
    actor_repr = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    old = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    new = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    # Whose personal account (or keys) the change concerns; their dashboard lists it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The organisation the change concerns. A plain integer, not a foreign key: the log
    # outlives a deleted organisation, and a cascade would have to delete its entries.
    organisation_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="audit_owner_recent"),
            models.Index(fields=["organisation_id", "-created_at"], name="audit_org_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} by {self.actor_repr or 'system'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutable("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditImmutable("audit entries are append-only")
