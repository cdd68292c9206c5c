"""The sidebar's context switcher: the user's contexts and the chosen one."""

from __future__ import annotations

from typing import Any

from accounts.organisations.context import SESSION_KEY, contexts_for


def dash_contexts(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    contexts = contexts_for(request)
    chosen = request.session.get(SESSION_KEY, "") if hasattr(request, "session") else ""
    if chosen not in {slug for slug, _ in contexts}:
        chosen = ""
    return {"dash_contexts": contexts, "dash_context_slug": chosen}
