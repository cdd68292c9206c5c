"""Structured logs: one JSON object per line, with the request id, and no secrets.

``JsonFormatter`` writes the message, the standard fields and whatever a caller put
in ``extra=``. ``RequestIdFilter`` stamps every record with the current request id.
``RedactSecretsFilter`` is the safety net: whatever a bug or a third-party library
logs, anything shaped like an API key or a bearer token is masked before it leaves
the process. Both filters sit on the handler, so they see propagated records too.

``StructuredRecord`` is the cheap path for lines written on every request: its code
builds the message and fields once, already redacted and JSON-ready, so the filter
passes it through and the formatter adds its fields without scanning the record.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
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


def redact_strings(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with each string value redacted; one regex search when none looks like a secret."""
    strings = [value for value in fields.values() if isinstance(value, str)]
    if not _MAYBE_SECRET.search("\n".join(strings)):
        return fields
    return {name: redact(value) if isinstance(value, str) else value for name, value in fields.items()}


class StructuredRecord(logging.LogRecord):
    """A record whose message, request id and ``fields`` are final: redacted and JSON-ready.

    The fields are also set as attributes, as ``extra=`` would, so any other handler or
    formatter configured in LOGGING sees the same record as before.
    """

    # A slot, not an attribute: formatters that scan vars(record) see each field once.
    __slots__ = ("fields",)

    @classmethod
    def make(
        cls, prototype: logging.LogRecord, level: int, message: str, request_id: str, fields: dict[str, Any]
    ) -> StructuredRecord:
        """A record like ``prototype`` (same logger and call site), made without ``findCaller``
        and ``LogRecord.__init__``: the caller must pass redacted text only."""
        record = cls.__new__(cls)
        attributes = record.__dict__
        attributes.update(prototype.__dict__)
        attributes.update(fields)
        now = time.time_ns()
        created = now / 1e9
        attributes["created"] = created
        attributes["msecs"] = (now % 1_000_000_000) // 1_000_000 + 0.0
        attributes["relativeCreated"] = (now - logging._startTime * 1e9) / 1e6  # type: ignore[attr-defined]
        attributes["levelno"] = level
        attributes["levelname"] = logging.getLevelName(level)
        attributes["msg"] = message
        attributes["args"] = None
        attributes["thread"] = threading.get_ident()
        attributes["threadName"] = threading.current_thread().name
        attributes["process"] = os.getpid()
        attributes["request_id"] = request_id
        record.fields = fields
        return record


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
        if type(record) is StructuredRecord and not (record.exc_info or record.exc_text or record.stack_info):
            return True  # built from redacted text only
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


class _Timestamps:
    """ISO 8601 UTC with milliseconds, as ``datetime.isoformat``; the date part made once a second."""

    def __init__(self) -> None:
        self.second = -1
        self.prefix = ""

    def format(self, created: float) -> str:
        second = int(created)
        micros = round((created - second) * 1e6)  # datetime.fromtimestamp rounds to microseconds
        if micros >= 1_000_000:
            second += 1
            micros -= 1_000_000
        if second != self.second:
            self.prefix = datetime.fromtimestamp(second, tz=UTC).isoformat()[:19]
            self.second = second
        return f"{self.prefix}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, then the extras."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timestamps = _Timestamps()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamps.format(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "") or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        if type(record) is StructuredRecord:
            for name, value in record.fields.items():
                entry.setdefault(name, value)
        else:
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
