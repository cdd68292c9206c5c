"""The playground's session-scoped internal key.

The playground calls the public ``/api/v1/chat/completions`` like any client, so it
spends credits through the same gateway path and obeys the same limits. It needs a
real key for that: one of kind ``playground``, created on first use in a login session.

No secret is stored, in the session or anywhere: the secret is derived (HMAC with
``SECRET_KEY``) from the session's own key and a random nonce kept in the session, so only
a request carrying that session cookie can obtain it again, and a new session (login
rotates the session key) cannot. The key expires after ``PLAYGROUND_KEY_SECONDS`` (then
the next page load makes a fresh one), is revoked when the session ends at logout, and
every playground key of a user is revoked when their password changes (which ends their
other sessions).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone

from accounts import keyauth
from accounts.models import ApiKey
from accounts.secrets import KEY_PREFIX, hash_secret
from accounts.services import api_key_create

SESSION_KEY_ID = "playground_key_id"
SESSION_NONCE = "playground_key_nonce"
KEY_NAME = "Playground session"


def _derive(session_key: str, nonce: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"playground:{session_key}:{nonce}".encode(), hashlib.sha256
    )
    return KEY_PREFIX + base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def playground_key_for_session(*, request: Any) -> str:
    """The session's playground secret, creating the key if the session has none usable."""
    session = request.session
    if session.session_key is None:
        session.save()  # the secret is derived from the session's key: it must have one
    key_id, nonce = session.get(SESSION_KEY_ID), session.get(SESSION_NONCE)
    if key_id and nonce:
        key = ApiKey.objects.filter(pk=key_id, user=request.user, kind=ApiKey.Kind.PLAYGROUND).first()
        secret = _derive(session.session_key, nonce)
        if key is not None and key.is_usable and hmac.compare_digest(key.secret_hash, hash_secret(secret)):
            return secret
    nonce = secrets.token_urlsafe(16)
    key, secret = api_key_create(
        user=request.user,
        name=KEY_NAME,
        kind=ApiKey.Kind.PLAYGROUND,
        expires_at=timezone.now() + timedelta(seconds=settings.PLAYGROUND_KEY_SECONDS),
        secret=_derive(session.session_key, nonce),
    )
    session[SESSION_KEY_ID] = key.pk
    session[SESSION_NONCE] = nonce
    return secret


def _revoke(keys: Any) -> int:
    hashes = list(keys.filter(revoked_at=None).values_list("secret_hash", flat=True))
    count = keys.filter(revoked_at=None).update(revoked_at=timezone.now())
    for secret_hash in hashes:
        keyauth.forget(secret_hash)
    return count


def playground_key_revoke(*, session: Any, user: Any) -> bool:
    """Revoke the session's playground key; True if there was one to revoke."""
    key_id = session.get(SESSION_KEY_ID)
    if not key_id or user is None:
        return False
    session.pop(SESSION_KEY_ID, None)
    session.pop(SESSION_NONCE, None)
    return bool(_revoke(ApiKey.objects.filter(pk=key_id, user=user, kind=ApiKey.Kind.PLAYGROUND)))


@receiver(user_logged_out, dispatch_uid="gateway.dashboard.playground.revoke_on_logout")
def _revoke_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        playground_key_revoke(session=request.session, user=user)


@receiver(pre_save, sender=get_user_model(), dispatch_uid="gateway.dashboard.playground.revoke_on_password")
def _revoke_on_password_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    # A password change ends the user's other sessions (their auth hash no longer matches);
    # their playground keys must end with them, wherever the change came from.
    update_fields = kwargs.get("update_fields")
    if (
        instance.pk is None
        or kwargs.get("raw")
        or (update_fields is not None and "password" not in update_fields)
    ):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        _revoke(ApiKey.objects.filter(user_id=instance.pk, kind=ApiKey.Kind.PLAYGROUND))
