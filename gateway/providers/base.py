"""The interface every provider adapter implements.

An adapter turns a validated OpenAI-shaped request into one upstream call and
yields OpenAI-shaped results. It never touches billing or the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from catalog.targets import Target


@dataclass
class Usage:
    prompt_tokens: int = 0  # all input tokens, cached ones included (OpenAI's convention)
    completion_tokens: int = 0  # all output tokens, reasoning included
    cached_tokens: int = 0  # cache reads, a subset of prompt_tokens
    cache_write_tokens: int = 0  # cache writes, a subset of prompt_tokens
    reasoning_tokens: int = 0  # a subset of completion_tokens


@dataclass
class Completion:
    """A whole (non-streaming) answer in OpenAI's shape."""

    choices: list[dict[str, Any]]  # OpenAI `choices` items: index, message, finish_reason, logprobs
    usage: Usage
    native_finish_reason: str = ""
    upstream_id: str = ""


@dataclass
class StreamEnd:
    """The last item an adapter's stream yields: the usage and why it ended."""

    usage: Usage | None  # None when the provider reported none (the gateway counts)
    finish_reason: str = ""
    native_finish_reason: str = ""
    upstream_id: str = ""


@dataclass
class Embeddings:
    """An embeddings answer: one vector per input, in input order."""

    vectors: list[list[float]]
    usage: Usage  # prompt_tokens only; embeddings produce no output tokens
    upstream_id: str = ""


@dataclass
class StreamUsage:
    """Usage a provider reported before the end (Anthropic's ``message_start``: the prompt's
    tokens once it began processing); a stream cut before its StreamEnd is billed from it."""

    usage: Usage


# A streamed item: an OpenAI chunk's `choices` list (deltas), a StreamUsage, or the StreamEnd.
StreamItem = list[dict[str, Any]] | StreamUsage | StreamEnd


@dataclass
class UpstreamError(Exception):
    """A provider failure, already classified for the gateway's status and retry decisions.

    kind: one of connect, timeout, rate_limit, overloaded, server, invalid_request,
    auth, not_found, content_filter, bad_response.
    """

    kind: str
    message: str
    status: int = 502
    retry_after: float | None = None
    native_status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    RETRYABLE = frozenset({"connect", "timeout", "rate_limit", "overloaded", "server"})

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE


class Adapter(Protocol):
    """``request`` is the validated OpenAI request body; the gateway has already
    put the effective output cap in ``request["max_tokens"]`` (never absent) and
    removed ``max_completion_tokens``."""

    async def complete(self, request: dict[str, Any], target: Target) -> Completion:
        """Return the whole answer or raise UpstreamError."""

    def stream(self, request: dict[str, Any], target: Target) -> AsyncIterator[StreamItem]:
        """Yield choice-delta lists (and any StreamUsage), then exactly one StreamEnd; raise
        UpstreamError on failure."""


class EmbeddingAdapter(Protocol):
    """``request`` is ``EmbeddingsRequest.upstream_body()``: ``input`` (a list of strings or of
    token arrays), and ``dimensions`` and ``user`` when the client gave them."""

    async def embed(self, request: dict[str, Any], target: Target) -> Embeddings:
        """Return one vector per input, in order, or raise UpstreamError."""
