"""Reasoning between the canonical answer and Responses ``reasoning`` items, both ways.

A provider's reasoning reaches the canonical answer as ``reasoning`` text and, where the
provider signs or hides it (Anthropic), as ``reasoning_details``. Each detail becomes one
``reasoning`` item: its text in ``summary`` for display, and the whole detail, signature
included, in ``encrypted_content`` (opaque to the client, as OpenAI's own is). When the
client sends the item back, the detail is read out of it unchanged, so an Anthropic model
gets its signed (or redacted) thinking back as it gave it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from gateway.surfaces.chat.request import InvalidRequest

_PREFIX = "pg1."  # marks content this gateway wrote; anything else is some other server's


def seal(detail: dict[str, Any]) -> str:
    return _PREFIX + base64.urlsafe_b64encode(orjson.dumps(detail)).decode()


def _unseal(value: str) -> dict[str, Any] | None:
    if not value.startswith(_PREFIX):
        return None
    try:
        detail = orjson.loads(base64.urlsafe_b64decode(value[len(_PREFIX) :]))
    except (binascii.Error, ValueError):
        return None
    return detail if isinstance(detail, dict) and isinstance(detail.get("type"), str) else None


def summary_text(item: dict[str, Any]) -> str:
    summary = item.get("summary")
    if not isinstance(summary, list):
        return ""
    return "".join(str(p.get("text") or "") for p in summary if isinstance(p, dict))


def details_of(item: dict[str, Any], param: str) -> list[dict[str, Any]]:
    """The canonical ``reasoning_details`` a client's ``reasoning`` input item carries."""
    if item.get("summary") is not None and not isinstance(item["summary"], list):
        raise InvalidRequest(f"'{param}.summary': expected an array", f"{param}.summary")
    sealed = item.get("encrypted_content")
    if sealed is not None and not isinstance(sealed, str):
        raise InvalidRequest(f"'{param}.encrypted_content': expected a string", f"{param}.encrypted_content")
    detail = _unseal(sealed) if sealed else None
    if detail is not None:
        return [detail]
    # Reasoning without this gateway's seal (shown text, another server's encrypted content)
    # means nothing to a provider behind it: models reason afresh, as over chat completions.
    return []


def items_of(message: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """(summary text, detail to seal or None) per reasoning item of a canonical answer."""
    details = [d for d in message.get("reasoning_details") or () if isinstance(d, dict)]
    if details:
        return [(str(d.get("text") or d.get("summary") or ""), d) for d in details]
    if message.get("reasoning"):
        return [(str(message["reasoning"]), None)]
    return []
