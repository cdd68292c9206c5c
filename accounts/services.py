"""Writes for accounts: API keys and user settings.

Every change that can make a key stop working (revoke, disable, a new expiry,
new limits) drops this process's cached lookup at once; other processes see it
within ``AUTH_CACHE_SECONDS`` (the cache's lifetime in ``accounts.keyauth``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts import keyauth
from accounts.audit_log import record
from accounts.models import ApiKey, UserSettings
from accounts.secrets import hash_secret, mask_secret, new_api_key_secret
from promptgrid.periods import period_start


class KeyRevoked(Exception):
    """A revoked key is final: it cannot be edited, enabled or revoked again."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


# "Leave this field as it is", for partial updates where None is a real value (no limit).
UNSET: Final[Any] = _Unset()


@transaction.atomic
def api_key_create(
    *,
    user: Any,
    name: str,
    kind: str = ApiKey.Kind.STANDARD,
    limit_nanos: int | None = None,
    limit_reset: str = ApiKey.Reset.NEVER,
    expires_at: datetime | None = None,
    rpm_limit: int | None = None,
    tpm_limit: int | None = None,
    allowed_models: list[str] | None = None,
    secret: str | None = None,
    actor: Any = None,
    organisation_id: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it with its secret, which is not stored and never shown again.

    ``secret``: a secret the caller derives itself (the playground's, from its session).
    ``actor``: who did it, for the audit log (the key's owner unless said otherwise).
    ``organisation_id``: the key's context (the caller has checked that ``user`` is a member);
    None for a personal key."""
    secret = secret or new_api_key_secret()
    key = ApiKey.objects.create(
        user=user,
        organisation_id=organisation_id,
        name=name,
        kind=kind,
        secret_hash=hash_secret(secret),
        masked=mask_secret(secret),
        limit_nanos=limit_nanos,
        limit_reset=limit_reset,
        expires_at=expires_at,
        rpm_limit=rpm_limit,
        tpm_limit=tpm_limit,
        allowed_models=list(allowed_models or []),
    )
    if kind != ApiKey.Kind.PLAYGROUND:  # made and dropped with a browser session, not by a person
        record(actor=actor or user, action="key.create", target=key, new=_audited(key, _AUDITED_FIELDS))
    return key, secret


# What the audit log shows of a key: everything an owner sets, never the secret.
_AUDITED_FIELDS = (
    "name",
    "kind",
    "limit_nanos",
    "limit_reset",
    "expires_at",
    "rpm_limit",
    "tpm_limit",
    "allowed_models",
    "disabled",
)


def _audited(key: ApiKey, fields: Any) -> dict[str, Any]:
    return {field: getattr(key, field) for field in fields if field in _AUDITED_FIELDS}


def _record_key(key: ApiKey, actor: Any, action: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    if key.kind != ApiKey.Kind.PLAYGROUND:
        record(actor=actor or key.user, action=action, target=key, old=old, new=new)


def forget_on_commit(secret_hash: str) -> None:
    """Drop this process's cached lookup of a key now, so it stops trusting its cached view
    immediately, and again after commit, in case a request re-cached the old row while
    this transaction was open."""
    keyauth.forget(secret_hash)
    transaction.on_commit(lambda: keyauth.forget(secret_hash))


def _forget(key: ApiKey) -> None:
    forget_on_commit(key.secret_hash)


def _lock(key: ApiKey) -> ApiKey:
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    if locked.revoked_at is not None:
        raise KeyRevoked("This key has been revoked and cannot be changed.")
    return locked


@transaction.atomic
def api_key_update(
    *,
    key: ApiKey,
    name: str = UNSET,
    limit_nanos: int | None = UNSET,
    limit_reset: str = UNSET,
    expires_at: datetime | None = UNSET,
    rpm_limit: int | None = UNSET,
    tpm_limit: int | None = UNSET,
    allowed_models: list[str] = UNSET,
    disabled: bool = UNSET,
    actor: Any = None,
) -> ApiKey:
    """Change the given fields of a key that is not revoked; others stay as they are.

    Spend counters are billing's and are left alone (lowering a limit below what was
    already spent simply stops the key until the period resets), except that a new
    reset rule recounts the period counter for the new period (``_rebase_period``).
    """
    locked = _lock(key)
    changes = {
        "name": name,
        "limit_nanos": limit_nanos,
        "limit_reset": limit_reset,
        "expires_at": expires_at,
        "rpm_limit": rpm_limit,
        "tpm_limit": tpm_limit,
        "allowed_models": list(allowed_models) if allowed_models is not UNSET else UNSET,
        "disabled": disabled,
    }
    fields = [field for field, value in changes.items() if value is not UNSET]
    before = _audited(locked, fields)
    if limit_reset is not UNSET and limit_reset != locked.limit_reset:
        fields += _rebase_period(locked, limit_reset)
    for field in fields:
        if field in changes:
            setattr(locked, field, changes[field])
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])
        _forget(locked)
    after = _audited(locked, fields)
    changed = [field for field in after if after[field] != before[field]]
    if changed:
        action = {"disabled": "key.disable" if locked.disabled else "key.enable"}.get(
            changed[0], "key.update"
        )
        action = action if len(changed) == 1 else "key.update"
        _record_key(locked, actor, action, {f: before[f] for f in changed}, {f: after[f] for f in changed})
    return locked


def _rebase_period(key: ApiKey, new_reset: str) -> list[str]:
    """Start the key's period spend counter over for a new reset rule; returns the changed fields.

    Billing keeps ``period_usage_nanos`` for the current period only, so after a switch
    (say daily to monthly) it would count just today. Recount the new period from the
    key's generations, whose costs are what billing charged. The key row is locked by
    the caller: a settlement racing this waits on that lock and adds its charge after.
    """
    from billing.models import Generation  # key spend: see the import contracts in .importlinter

    start = period_start(new_reset, timezone.now())
    if start is None:  # a total limit counts ``usage_nanos``; the period counter is unused
        return []
    spent = Generation.objects.filter(
        user_id=key.user_id, api_key_id=key.pk, created_at__gte=start
    ).aggregate(total=Sum("cost_nanos", default=0))["total"]
    key.period_usage_nanos = spent
    key.period_start = start
    return ["period_usage_nanos", "period_start"]


def api_key_disable(*, key: ApiKey, actor: Any = None) -> ApiKey:
    """Stop a key from authenticating until it is enabled again."""
    return api_key_update(key=key, disabled=True, actor=actor)


def api_key_enable(*, key: ApiKey, actor: Any = None) -> ApiKey:
    return api_key_update(key=key, disabled=False, actor=actor)


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Any = None) -> ApiKey:
    """Revoke a key for good. Revoking twice is harmless and keeps the first time."""
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at", "updated_at"])
        _record_key(locked, actor, "key.revoke", {"revoked_at": None}, {"revoked_at": locked.revoked_at})
    _forget(locked)
    return locked


def user_settings_for(*, user: Any) -> UserSettings:
    """The user's settings row, created with the defaults the first time it is needed."""
    prefs, _ = UserSettings.objects.get_or_create(user=user)
    return prefs


@transaction.atomic
def user_settings_update(*, user: Any, log_prompts: bool, log_retention_days: int) -> UserSettings:
    prefs, _ = UserSettings.objects.select_for_update().get_or_create(user=user)
    prefs.log_prompts = log_prompts
    prefs.log_retention_days = log_retention_days
    prefs.save(update_fields=["log_prompts", "log_retention_days"])
    # Cached key lookups carry ``log_prompts``; let this process see the change now.
    user_keys_forget(user=user)
    return prefs


def user_keys_forget(*, user: Any) -> None:
    """Drop this process's cached lookups of the user's keys (they carry user settings)."""
    for secret_hash in ApiKey.objects.filter(user=user).values_list("secret_hash", flat=True):
        keyauth.forget(secret_hash)
