"""The one place organisation events are written to the audit log.

Role changes, invitations, member budget changes and removals are each recorded here, in the
transaction that makes the change (so the entry commits or rolls back with it), in the
organisation's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accounts.audit_log import record


def org_event(
    *,
    action: str,
    organisation: Any,
    actor: Any,
    target: Any,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
) -> None:
    """Record that ``actor`` (a user, or None for an operator's command) did ``action`` to
    ``target`` (a membership, an invitation or the organisation) in ``organisation``."""
    record(actor=actor, action=action, target=target, old=old, new=new, organisation_id=organisation.pk)
