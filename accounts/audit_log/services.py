"""Writing the audit log: ``record`` one entry per money or access action.

Call it inside the transaction that makes the change, so the entry commits (or
rolls back) with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from accounts.audit_log.models import AuditEntry
from promptgrid.observability.request_id import current_request_id

# Values under these names are never written to the log, only that they changed.
_SECRET_NAMES = frozenset({"api_key", "password", "secret", "secret_hash", "token", "signing_secret"})
REDACTED = "[redacted]"


def _redact(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {
        name: REDACTED if (name in _SECRET_NAMES or name.endswith("_secret")) and value else value
        for name, value in values.items()
    }


def _actor(actor: Any) -> tuple[Any, str]:
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor[:200]
    if not getattr(actor, "is_authenticated", False):
        return None, "anonymous"
    return actor, (getattr(actor, "email", "") or str(actor))[:200]


def _target(target: Any) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, models.Model):
        meta = target._meta
        return f"{meta.app_label}.{meta.model_name}", str(target.pk), str(target)[:200]
    if isinstance(target, tuple):  # (type, id, repr) for things that are not rows
        kind, ident, text = target
        return str(kind)[:64], str(ident)[:64], str(text)[:200]
    raise TypeError("target is a model instance, a (type, id, repr) tuple or None")


def record(
    *,
    actor: Any,
    action: str,
    target: Any = None,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    owner: Any = None,
    organisation_id: int | None = None,
    request: Any = None,
    request_id: str | None = None,
) -> AuditEntry:
    """Append one entry: ``actor`` (a user, a label such as ``"stripe"``, or None for the
    system) did ``action`` (``"<thing>.<verb>"``, e.g. ``"key.revoke"``) to ``target``.

    ``owner`` (the user whose personal log shows it) and ``organisation_id`` default to
    the target's ``user``/``organisation`` when it has them. The request id comes from
    ``request``, else ``request_id``, else the request being served in this context.
    Values named like secrets (``api_key``, ``*_secret`` …) are written as ``[redacted]``.
    """
    actor_user, actor_repr = _actor(actor)
    target_type, target_id, target_repr = _target(target)
    if owner is None:
        owner_id = getattr(target, "user_id", None) if isinstance(target, models.Model) else None
    else:
        owner_id = owner if isinstance(owner, int) else owner.pk
    if organisation_id is None and isinstance(target, models.Model):
        is_organisation = target._meta.label_lower == "organisations.organisation"
        organisation_id = target.pk if is_organisation else getattr(target, "organisation_id", None)
    if request is not None:
        request_id = getattr(request, "request_id", None) or request_id
    return AuditEntry.objects.create(
        actor=actor_user,
        actor_repr=actor_repr,
        action=action[:64],
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        old=_redact(old),
        new=_redact(new),
        owner_id=owner_id,
        organisation_id=organisation_id,
        request_id=(request_id if request_id is not None else current_request_id())[:128],
    )
