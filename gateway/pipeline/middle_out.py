"""OpenRouter's ``transforms: ["middle-out"]``: a prompt too long for the model loses messages
from its middle until it fits.

Kept whatever the length: the leading system (and developer) messages, the first user turn, and
the latest turn. Between them, whole turns are dropped nearest the middle first, alternating
outwards, so the conversation keeps its opening and its most recent exchanges. An assistant
message that called tools and the tool results answering it go (or stay) together, so no
provider sees a tool result without its call.

"Fits" is measured with the gateway's token counter (``gateway.pipeline.tokens``) against the
smallest context length among the request's routes, less the client's ``max_tokens`` when it
gave one. It runs while the request is prepared, before the hold and any refusal of a prompt
longer than the context. A prompt that still does not fit once nothing is left to drop goes on
as it is, and is refused as any over-long prompt is.

Off unless the request asks (``transforms: ["middle-out"]``); ``MIDDLE_OUT_DEFAULT_MAX_CONTEXT``
turns it on for requests that send no ``transforms`` to models whose context is at most that
many tokens (OpenRouter does so at 8,192). ``transforms: []`` opts out.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from gateway.pipeline.tokens import count_prompt_tokens

MIDDLE_OUT = "middle-out"


def _turns(messages: list[dict[str, Any]], start: int) -> list[list[int]]:
    """Indexes of ``messages[start:]`` grouped into turns that are dropped whole: an assistant
    message with tool calls together with the tool results after it; any other message alone."""
    turns: list[list[int]] = []
    for i in range(start, len(messages)):
        if messages[i].get("role") == "tool" and turns and _calls_tools(messages[turns[-1][0]]):
            turns[-1].append(i)
        else:
            turns.append([i])
    return turns


def _calls_tools(message: dict[str, Any]) -> bool:
    return message.get("role") == "assistant" and bool(message.get("tool_calls"))


def _head(messages: list[dict[str, Any]]) -> int:
    """How many leading messages are kept: the system prompt and the first user turn."""
    i = 0
    while i < len(messages) and messages[i].get("role") in ("system", "developer"):
        i += 1
    if i < len(messages) and messages[i].get("role") == "user":
        i += 1
    return i


def _middle_first(count: int) -> list[int]:
    """``range(count)`` from its middle outwards: 2, 3, 1, 4, 0 for five."""
    middle = (count - 1) // 2
    order = [middle]
    for step in range(1, count):
        for candidate in (middle + step, middle - step):
            if 0 <= candidate < count and len(order) < count:
                order.append(candidate)
    return order[:count]


def compress(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, limit: int
) -> list[dict[str, Any]]:
    """``messages`` with middle turns dropped until their tokens are at most ``limit``."""
    if count_prompt_tokens(messages, tools) <= limit:
        return messages
    head = _head(messages)
    turns = _turns(messages, head)
    droppable = turns[:-1]  # the latest turn stays
    dropped: set[int] = set()
    sizes = [count_prompt_tokens([messages[i] for i in turn]) for turn in droppable]
    total = count_prompt_tokens(messages, tools)
    for index in _middle_first(len(droppable)):
        dropped.add(index)
        total -= sizes[index]
        if total <= limit:
            break
    keep = {i for n, turn in enumerate(droppable) if n not in dropped for i in turn}
    keep.update(range(head))
    keep.update(turns[-1] if turns else ())
    return [m for i, m in enumerate(messages) if i in keep]


def wanted(transforms: list[str] | None, context: int) -> bool:
    """Whether a request with ``transforms`` (None: not sent) is compressed for this context."""
    if transforms is not None:
        return MIDDLE_OUT in transforms
    threshold = settings.MIDDLE_OUT_DEFAULT_MAX_CONTEXT
    return bool(threshold) and 0 < context <= threshold


def apply(request: Any, contexts: list[int]) -> int:
    """Compress ``request.messages`` in place when asked and too long; returns messages dropped."""
    known = [c for c in contexts if c > 0]
    if not known:
        return 0
    context = min(known)
    if not wanted(request.transforms, context):
        return 0
    limit = context - (request.max_tokens or 0) if (request.max_tokens or 0) < context else context
    before = len(request.messages)
    request.messages = compress(request.messages, request.tools, limit)
    return before - len(request.messages)
