"""Structured logs: one JSON object per line, with the request id, and no secrets.

``JsonFormatter`` writes the message, the standard fields and whatever a caller put
in ``extra=``. ``RequestIdFilter`` stamps every record with the current request id.
``RedactSecretsFilter`` is the safety net: whatever a bug or a third-party library
logs, anything shaped like an API key or a bearer token is masked before it leaves
the process. Both filters sit on the handler, so they see propagated records too.
"""

from __future__ import annotations

import logging
import re
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

from promptgrid.observability.request_id import current_request_id

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "taskName", "color_message"}  # color_message: uvicorn's ANSI copy
)

_SECRET_PATTERNS = (
    # PromptGrid keys, OpenAI/Anthropic/OpenRouter keys, Stripe keys and webhook secrets.
    re.compile(r"pg-v1-[A-Za-z0-9_\-]{4,}"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}"),
    re.compile(r"\bwhsec_[A-Za-z0-9]{8,}"),
    # Google API keys.
    re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"),
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
_HEADER_SECRET = re.compile(
    r"(?i)(x-api-key|x-goog-api-key|api[_-]?key)([\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]+)"
)
REDACTED = "[redacted]"
# One search that every credential above must match first: most log text has none.
_MAYBE_SECRET = re.compile(r"pg-v1-|sk-|(?:sk|rk|pk)_|whsec_|AIza|(?i:bearer|api[_-]?key)")


def redact(text: str) -> str:
    """Mask anything that looks like a credential; one regex search when there is none."""
    if not _MAYBE_SECRET.search(text):
        return text
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _HEADER_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = current_request_id()
        return True


class RedactSecretsFilter(logging.Filter):
    """Rewrites the record in place: message (with its arguments), extras and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info))
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # The formatter would re-render the traceback from exc_info, unredacted.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS:
                setattr(record, name, _redact_value(value))
        return True


def _default(value: Any) -> Any:
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, then the extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "") or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and name not in entry:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return orjson.dumps(entry, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


class TextFormatter(logging.Formatter):
    """For a developer's terminal (LOG_FORMAT=text): the usual line, with the request id."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or "-"
        return super().format(record)
