"""The playground's session-scoped internal key.

The playground calls the public ``/api/v1/chat/completions`` like any client, so it
spends credits through the same gateway path and obeys the same limits. It needs a
real key for that: one of kind ``playground``, created on first use in a login
session, kept in that session (whose cookie already grants as much as the key), and
revoked when the session ends at logout.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.utils import timezone

from accounts import keyauth
from accounts.models import ApiKey
from accounts.services import api_key_create

SESSION_KEY_ID = "playground_key_id"
SESSION_SECRET = "playground_key_secret"
KEY_NAME = "Playground session"


def playground_key_for_session(*, request: Any) -> str:
    """The session's playground secret, creating the key if the session has none usable."""
    session = request.session
    key_id, secret = session.get(SESSION_KEY_ID), session.get(SESSION_SECRET)
    if key_id and secret:
        key = ApiKey.objects.filter(pk=key_id, user=request.user, kind=ApiKey.Kind.PLAYGROUND).first()
        if key is not None and key.is_usable:
            return secret
    key, secret = api_key_create(user=request.user, name=KEY_NAME, kind=ApiKey.Kind.PLAYGROUND)
    session[SESSION_KEY_ID] = key.pk
    session[SESSION_SECRET] = secret
    return secret


def playground_key_revoke(*, session: Any, user: Any) -> bool:
    """Revoke the session's playground key; True if there was one to revoke."""
    key_id = session.get(SESSION_KEY_ID)
    if not key_id or user is None:
        return False
    key = ApiKey.objects.filter(pk=key_id, user=user, kind=ApiKey.Kind.PLAYGROUND, revoked_at=None).first()
    session.pop(SESSION_KEY_ID, None)
    session.pop(SESSION_SECRET, None)
    if key is None:
        return False
    ApiKey.objects.filter(pk=key.pk, revoked_at=None).update(revoked_at=timezone.now())
    keyauth.forget(key.secret_hash)
    return True


@receiver(user_logged_out, dispatch_uid="gateway.dashboard.playground.revoke_on_logout")
def _revoke_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        playground_key_revoke(session=request.session, user=user)
