"""Authenticate ``Authorization: Bearer pg-v1-…`` secrets by hash, with a short cache.

The cache is per process and lives ``AUTH_CACHE_SECONDS`` (default 2 s): that
bounds how long a revoked key keeps working on another process, without a
database query on every request. ``last_used_at`` is written at most once a
minute per key, not on every request. The cache holds at most ``AUTH_CACHE_SIZE`` entries
and evicts the least recently used, so random secrets sent by anyone cannot grow it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import ApiKey
from accounts.organisations.models import Membership
from accounts.secrets import hash_secret

LAST_USED_RESOLUTION = timedelta(minutes=1)


class KeyRejected(Exception):
    """The secret is unknown, revoked, disabled or expired (HTTP 401)."""


@dataclass(frozen=True)
class KeyInfo:
    id: int
    user_id: int
    account_id: int | None
    name: str
    kind: str
    expires_at: datetime | None
    limit_nanos: int | None
    rpm_limit: int | None
    tpm_limit: int | None
    allowed_models: tuple[str, ...]
    user_rpm_limit: int | None
    log_prompts: bool
    last_used_at: datetime | None
    # The key's context: None for a personal key, else the organisation whose account it spends.
    organisation_id: int | None = None
    # The allowlists a model must be on (the key's, the member's, the organisation's); an
    # empty list is no restriction and is left out.
    model_allowlists: tuple[frozenset[str], ...] = ()

    @property
    def is_management(self) -> bool:
        return self.kind == ApiKey.Kind.MANAGEMENT

    def allows(self, slug: str) -> bool:
        """Whether this key may call the model ``slug``."""
        return all(slug in allowed for allowed in self.model_allowlists)


_cache: OrderedDict[str, tuple[float, KeyInfo | str]] = OrderedDict()
_cache_lock = threading.Lock()  # sync views run in several threads


def _remember(secret_hash: str, expires: float, result: KeyInfo | str) -> None:
    with _cache_lock:
        _cache[secret_hash] = (expires, result)
        _cache.move_to_end(secret_hash)
        while len(_cache) > settings.AUTH_CACHE_SIZE:
            _cache.popitem(last=False)


def forget(secret_hash: str | None = None) -> None:
    """Drop cached lookups (one hash, or all) in this process."""
    if secret_hash is None:
        _cache.clear()
    else:
        _cache.pop(secret_hash, None)


def _load(secret_hash: str) -> KeyInfo | str:
    # An organisation key's member, in the same query: their model allowlist, and whether
    # they are a member at all (removal revokes the key too; this also covers a key whose
    # revocation has not reached this row yet).
    member = Membership.objects.filter(
        organisation_id=OuterRef("organisation_id"), user_id=OuterRef("user_id")
    )
    row = (
        ApiKey.objects.filter(secret_hash=secret_hash)
        .annotate(
            member_allowed_models=Subquery(member.values("allowed_models")[:1]),
            is_member=Exists(member),
        )
        .values(
            "id",
            "user_id",
            "name",
            "kind",
            "expires_at",
            "disabled",
            "revoked_at",
            "limit_nanos",
            "rpm_limit",
            "tpm_limit",
            "allowed_models",
            "last_used_at",
            "user__is_active",
            "user__credit_account__id",
            "user__prefs__rpm_limit",
            "user__prefs__log_prompts",
            "organisation_id",
            "organisation__credit_account__id",
            "organisation__allowed_models",
            "member_allowed_models",
            "is_member",
        )
        .first()
    )
    if row is None or not row["user__is_active"]:
        return "Invalid API key."
    if row["revoked_at"] is not None:
        return "This API key has been revoked."
    if row["disabled"]:
        return "This API key is disabled."
    in_organisation = row["organisation_id"] is not None
    if in_organisation and not row["is_member"]:
        return "This API key has been revoked."
    allowlists = [row["allowed_models"]]
    if in_organisation:
        allowlists += [_json_list(row["member_allowed_models"]), row["organisation__allowed_models"]]
    return KeyInfo(
        id=row["id"],
        user_id=row["user_id"],
        account_id=(
            row["organisation__credit_account__id"] if in_organisation else row["user__credit_account__id"]
        ),
        name=row["name"],
        kind=row["kind"],
        expires_at=row["expires_at"],
        limit_nanos=row["limit_nanos"],
        rpm_limit=row["rpm_limit"],
        tpm_limit=row["tpm_limit"],
        allowed_models=tuple(row["allowed_models"] or ()),
        user_rpm_limit=row["user__prefs__rpm_limit"],
        log_prompts=bool(row["user__prefs__log_prompts"]),
        last_used_at=row["last_used_at"],
        organisation_id=row["organisation_id"],
        model_allowlists=tuple(frozenset(allowed) for allowed in allowlists if allowed),
    )


def _json_list(value: Any) -> list[str]:
    # A JSON column read through a subquery comes back as its text on some backends.
    if isinstance(value, str):
        value = json.loads(value)
    return list(value or [])


def authenticate(secret: str) -> KeyInfo:
    """Return the key for ``secret`` or raise KeyRejected with a message for the client.

    Sync (it may query the database); call it once per request through
    ``sync_to_async`` from async code, or use ``authenticate_cached`` first.
    """
    secret_hash = hash_secret(secret)
    now_mono = time.monotonic()
    hit = _cache.get(secret_hash)
    if hit is not None and hit[0] > now_mono:
        result = hit[1]
    else:
        result = _load(secret_hash)
        hit = (now_mono + settings.AUTH_CACHE_SECONDS, result)
        _remember(secret_hash, *hit)
    if isinstance(result, str):
        raise KeyRejected(result)
    now = timezone.now()
    if result.expires_at is not None and result.expires_at <= now:
        raise KeyRejected("This API key has expired.")
    if result.last_used_at is None or now - result.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=result.id).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        result = _replace_last_used(result, now)
        _remember(secret_hash, hit[0], result)
    return result


def authenticate_cached(secret: str) -> KeyInfo | None:
    """The cache-only fast path for async code: None means "ask ``authenticate``"."""
    hit = _cache.get(hash_secret(secret))
    if hit is None or hit[0] <= time.monotonic() or isinstance(hit[1], str):
        return None
    info = hit[1]
    now = timezone.now()
    if info.expires_at is not None and info.expires_at <= now:
        return None
    if info.last_used_at is None or now - info.last_used_at >= LAST_USED_RESOLUTION:
        return None
    return info


def _replace_last_used(info: KeyInfo, when: datetime) -> KeyInfo:
    from dataclasses import replace

    return replace(info, last_used_at=when)
