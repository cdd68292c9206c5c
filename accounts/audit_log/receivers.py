"""Admin changes announced by ``promptgrid.admin_audit`` become audit entries."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from accounts.audit_log.services import record
from promptgrid.admin_audit import admin_changed


@receiver(admin_changed, dispatch_uid="audit_log_admin_changed")
def _record_admin_change(
    sender: Any, *, request: Any, obj: Any, action: str, old: dict | None, new: dict | None, **kwargs: Any
) -> None:
    record(actor=request.user, action=action, target=obj, old=old, new=new, request=request)
