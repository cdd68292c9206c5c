"""Helpers shared by the non-OpenAI adapters to read OpenAI messages and write OpenAI answers."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any

from gateway.providers.base import UpstreamError

_DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w-]+=[^;,]*)*(?P<b64>;base64)?,(?P<data>.*)$", re.S
)


def invalid(message: str, param: str = "messages") -> UpstreamError:
    return UpstreamError(kind="invalid_request", status=400, message=message, extra={"param": param})


def parts_of(content: Any) -> list[dict[str, Any]]:
    """A message's content as a list of OpenAI content parts (a string is one text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [p if isinstance(p, dict) else {"type": "text", "text": str(p)} for p in content]
    raise invalid("message content must be a string or a list of parts")


def text_of(content: Any) -> str:
    """The text of a content value whose non-text parts do not apply (system, tool results)."""
    return "".join(
        p.get("text") or p.get("refusal") or ""
        for p in parts_of(content)
        if p.get("type") in ("text", "refusal")
    )


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``data:image/png;base64,XXX`` → ("image/png", "XXX"); None for any other URL."""
    if not url.startswith("data:"):
        return None
    match = _DATA_URL.match(url)
    if not match or not match["b64"]:
        raise invalid("data: URLs must be base64 encoded (data:<mime>;base64,<data>)")
    data = match["data"].strip()
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("data: URL holds invalid base64") from None
    return match["mime"] or "application/octet-stream", data


def image_url_of(part: dict[str, Any]) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise invalid("image_url parts need an image_url.url")
    return url


def file_data_of(part: dict[str, Any]) -> tuple[str, str]:
    """An OpenAI ``file`` part with inline ``file_data`` → (mime, base64)."""
    file = part.get("file") or {}
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise invalid("file parts need file.file_data (uploaded file ids are not supported here)")
    parsed = parse_data_url(data)
    if parsed:
        return parsed
    filename = str(file.get("filename") or "")
    mime = "application/pdf" if filename.lower().endswith(".pdf") or not filename else "text/plain"
    return mime, data


def arguments_object(arguments: Any) -> dict[str, Any]:
    """A tool call's JSON-string arguments as the object both providers require.

    A model can emit arguments that are not a JSON object; rather than refusing the
    whole conversation, such a value is kept under ``"arguments"`` so nothing is lost."""
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except (TypeError, ValueError):
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"arguments": value}


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


_SYNTHETIC_ID = re.compile(r"^call_[0-9a-f]{24}$")


def is_synthetic_call_id(call_id: str) -> bool:
    return bool(_SYNTHETIC_ID.match(call_id))


# Gemini returns a thoughtSignature with a function call and rejects the next turn
# unless it comes back with that call. OpenAI clients echo a tool call's id (they must,
# to answer it) but often rebuild messages and drop unknown fields, so the signature
# rides in the id: ``<id>__ts_<base64url>``. The alphabet stays [A-Za-z0-9_-], which
# Anthropic also accepts, and ``split_call_id`` recovers both halves for any provider.
_SIGNATURE_MARK = "__ts_"


def join_call_id(call_id: str, signature: bytes | None) -> str:
    if not signature:
        return call_id
    encoded = base64.urlsafe_b64encode(signature).decode().rstrip("=")
    return f"{call_id}{_SIGNATURE_MARK}{encoded}"


def split_call_id(call_id: str) -> tuple[str, bytes | None]:
    base, mark, encoded = call_id.partition(_SIGNATURE_MARK)
    if not mark:
        return call_id, None
    try:
        return base, base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return call_id, None


def tool_call(call_id: str, name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    encoded = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": encoded}}


def assistant_message(
    *, content: str | None, tool_calls: list[dict[str, Any]], reasoning: str | None = None, **extra: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning"] = reasoning
    message.update({k: v for k, v in extra.items() if v})
    return message


def delta_choice(delta: dict[str, Any], index: int = 0, finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": None}


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds only; dates are ignored)."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except (TypeError, ValueError):
            continue
    return None


_SECRETISH = re.compile(r"(?:sk|pk|key|pg)-[A-Za-z0-9_\-*]{6,}|AIza[0-9A-Za-z_\-]{20,}")


def scrubbed(error: UpstreamError, secret: str) -> UpstreamError:
    """The error with the provider key, or anything shaped like a key, cut from its message
    (provider messages can quote the key they refused)."""
    message = error.message.replace(secret, "***") if secret else error.message
    error.message = _SECRETISH.sub("***", message)[:1000]
    error.args = (error.message,)
    return error
