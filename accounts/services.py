"""Writes for accounts: API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from accounts.models import ApiKey
from accounts.secrets import hash_secret, mask_secret, new_api_key_secret


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
) -> tuple[ApiKey, str]:
    """Create a key; return it with its secret, which is not stored and never shown again."""
    secret = new_api_key_secret()
    key = ApiKey.objects.create(
        user=user,
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
    return key, secret
