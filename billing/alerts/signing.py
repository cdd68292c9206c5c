"""Webhook signatures: ``PromptGrid-Signature: t=<unix time>,v1=<hex HMAC-SHA256>``.

The MAC covers ``"<t>.<body>"`` so a receiver can refuse an old delivery replayed
(compare ``t`` with its clock) as well as a forged one, the scheme Stripe uses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.utils.crypto import salted_hmac

_SALT = "promptgrid.alerts.webhook"


def new_nonce() -> str:
    return secrets.token_hex(32)


def signing_secret(nonce: str) -> str:
    """The endpoint's secret, derived again whenever it is needed (never stored)."""
    return "whsec_" + salted_hmac(_SALT, nonce, algorithm="sha256").hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (used by the tests): a valid MAC made within ``tolerance`` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature_header(secret, body, timestamp).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))
