"""Text and JSON made safe to store: no value that PostgreSQL refuses.

PostgreSQL's ``text`` cannot hold NUL (U+0000), ``jsonb`` refuses the ``\\u0000`` escape, and
UTF-8 has no encoding for a lone surrogate (U+D800-U+DFFF, which Python strings can carry
when a client or an SDK decoded a broken escape). Any of them in a logged prompt or answer
would make the whole statement fail, so each becomes U+FFFD (the replacement character,
which keeps the length and shows where something was).

SQLite accepts all of these; the rule is applied everywhere so a row reads back the same on
both databases.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

REPLACEMENT = "\ufffd"
_REFUSED = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (the same object when clean)."""
    if _REFUSED.search(text) is None:
        return text
    return _REFUSED.sub(REPLACEMENT, text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {(storable_text(k) if isinstance(k, str) else k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


def storable_json(value: Any) -> Any:
    """``value`` (parsed JSON) with every string and key made storable; unchanged when clean.

    The common case costs one serialisation in C: orjson refuses lone surrogates and spells
    NUL ``\\u0000``, so a value it serialises with no such escape needs no walk.
    """
    try:
        raw = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, or a type it does not know
        return _clean(value)
    return _clean(value) if b"\\u0000" in raw else value
