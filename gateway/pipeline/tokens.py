"""A deterministic token counter, for the mock models and for streams that report no usage.

It is not any real tokenizer: one token per started group of four characters, the
usual rule of thumb for English text. It only has to be deterministic, cheap and
never above the UTF-8 byte size (which is what holds assume as the worst case).
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 3  # role and separators, as chat formats add a few per message


def count_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def tokens_for_chars(chars: int) -> int:
    """``count_tokens`` of a text known only by its length (what a stream produced)."""
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text (and refusal) parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text") if part.get("type") == "text" else part.get("refusal")
                if isinstance(text, str):
                    texts.append(text)
        return "".join(texts)
    return ""


def count_prompt_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
    """Tokens of a request's messages (text, tool calls and tool results) and tool definitions."""
    import orjson

    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS + count_tokens(content_text(message.get("content")))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += count_tokens(str(function.get("name", ""))) + count_tokens(
                str(function.get("arguments", ""))
            )
    if tools:
        total += count_tokens(orjson.dumps(tools).decode())
    return total
