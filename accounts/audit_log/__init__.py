"""The append-only audit log of money and access actions.

``from accounts.audit_log import record`` is the one way to write it
(``accounts.audit_log.services.record``).
"""

from __future__ import annotations

from typing import Any


def record(**kwargs: Any) -> Any:
    """See ``accounts.audit_log.services.record``; imported late so this package loads before apps do."""
    from accounts.audit_log.services import record as _record

    return _record(**kwargs)
