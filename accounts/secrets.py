"""Generation and hashing of high-entropy secrets (API keys, redeem codes)."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "pg-v1-"


def new_api_key_secret() -> str:
    # 32 random bytes = 256 bits, URL-safe (43 characters).
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 hex: right for a 256-bit random secret (no slow hash needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def mask_secret(secret: str) -> str:
    body = secret[len(KEY_PREFIX) :] if secret.startswith(KEY_PREFIX) else secret
    return f"{KEY_PREFIX}{body[:3]}…{body[-3:]}"
