"""Server-sent events for ``stream: true``.

The status line waits (up to STREAM_HOLD_STATUS_SECONDS) for the upstream's first
item, so an upstream that fails fast gives the client a real status (429, 502…)
and a later fallback stays possible. Past that, the 200 goes out and SSE comments
``: PROMPTGRID PROCESSING`` keep the connection alive until the answer starts.

Every chunk is re-labelled with the generation id and the public model id. The
last chunk has ``choices: []`` and the usage (always), then ``data: [DONE]``. A
failure after the 200 is one chunk with a top-level ``error`` and
``finish_reason: "error"`` (OpenRouter's convention), then ``[DONE]``. Whatever
ends the stream — its end, an error, the client hanging up — settles it once.
When the provider reported no usage (or the stream was cut), completion tokens
are counted from the text produced and prompt tokens from the request, with
``gateway.pipeline.tokens``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from django.conf import settings

from gateway.pipeline import telemetry
from gateway.pipeline.flight import STATUS_CANCELLED, STATUS_ERROR, STATUS_SUCCESS, Flight, usage_body
from gateway.pipeline.replies import EVENT_STREAM, Reply, error_reply
from gateway.pipeline.tokens import tokens_for_chars
from gateway.providers.base import StreamEnd, StreamItem, StreamUsage, UpstreamError, Usage

logger = logging.getLogger(__name__)

KEEPALIVE = b": PROMPTGRID PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def upstream_error_response(flight: Flight, error: UpstreamError) -> Reply:
    headers = {"X-Generation-Id": flight.generation_id}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    code = {429: "rate_limited", 504: "timeout", 400: "invalid_request"}.get(error.status, "provider_error")
    param = error.extra.get("param") if error.status == 400 else None
    return error_reply(error.status, error.message, code=code, param=param, headers=headers)


def _as_upstream_error(exc: BaseException, flight: Flight) -> UpstreamError:
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, StopAsyncIteration):
        return UpstreamError("bad_response", f"{flight.target.provider_name} sent an empty stream.")
    logger.exception("unexpected adapter failure", exc_info=exc)
    return UpstreamError(
        "bad_response", f"{flight.target.provider_name} sent a response the gateway could not read."
    )


class Relay:
    def __init__(self, flight: Flight, items: AsyncIterator[StreamItem]) -> None:
        self.flight = flight
        self.items = items
        self.first: asyncio.Future[StreamItem] | None = None
        self.chars = 0
        self.texts: list[str] | None = [] if flight.key.log_prompts else None
        self.end: StreamEnd | None = None
        self.reported: Usage | None = None  # usage the provider reported before its end
        self.finish_reason = ""
        self.prefix = {
            "id": flight.generation_id,
            "object": "chat.completion.chunk",
            "created": flight.created,
            "model": flight.target.model_slug,
            "provider": flight.target.provider_name,
            # Required by OpenRouter's SDK; a string (none known: empty) as OpenAI's spec types it.
            "system_fingerprint": "",
        }

    # -- opening: hold the status line back until the upstream answers ------------------------

    async def open(self) -> Reply:
        self.first = asyncio.ensure_future(anext(self.items))
        try:
            await asyncio.wait({self.first}, timeout=float(settings.STREAM_HOLD_STATUS_SECONDS))
        except asyncio.CancelledError:
            await self._abandon()
            raise
        if self.first.done() and self.first.exception() is not None:
            error = _as_upstream_error(self.first.exception(), self.flight)
            await self._close_items()
            telemetry.upstream_error(provider=self.flight.target.provider_slug, kind=error.kind)
            await self._settle_error(error, http_status=error.status)
            return self.error_reply(error)
        headers = {**SSE_HEADERS, "X-Generation-Id": self.flight.generation_id}
        return Reply(200, headers=headers, stream=self.events(), content_type=EVENT_STREAM)

    async def _abandon(self) -> None:
        if self.first is not None and not self.first.done():
            self.first.cancel()
            try:
                await self.first
            except BaseException:  # noqa: S110 — the task was cancelled on purpose
                pass
        await self._close_items()
        await self._settle_cancelled()

    async def _close_items(self) -> None:
        aclose = getattr(self.items, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except BaseException:  # noqa: S110 — closing a failed upstream stream is best effort
                pass

    # -- the body ------------------------------------------------------------------------------

    def _chunk(self, choices: list[dict[str, Any]]) -> bytes:
        self._account(choices)
        return b"data: " + orjson.dumps({**self.prefix, "choices": choices}) + b"\n\n"

    def _account(self, choices: list[dict[str, Any]]) -> None:
        """Count what a chunk produced (for billing a cut stream) and note its finish reason."""
        for choice in choices:
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                self.chars += len(content)
                self.flight.mark_first_token()
                if self.texts is not None:
                    self.texts.append(content)
            # Reasoning and refusals are output the provider bills too: a stream cut during them
            # pays for what was produced, not nothing.
            for name in ("reasoning", "refusal"):
                produced = delta.get(name)
                if isinstance(produced, str) and produced:
                    self.chars += len(produced)
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                produced = len(function.get("name") or "") + len(function.get("arguments") or "")
                if produced:
                    self.chars += produced
                    self.flight.mark_first_token()
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def _usage(self) -> Usage:
        if self.end is not None and self.end.usage is not None:
            return self.end.usage
        if self.reported is not None:  # cut short: the provider's prompt count, the output counted
            produced = max(self.reported.completion_tokens, tokens_for_chars(self.chars))
            return dataclasses.replace(self.reported, completion_tokens=produced)
        return Usage(
            prompt_tokens=self.flight.counted_prompt_tokens(),
            completion_tokens=tokens_for_chars(self.chars),
        )

    async def events(self) -> AsyncIterator[bytes]:
        telemetry.stream_opened()
        try:
            assert self.first is not None
            interval = max(0.05, float(settings.STREAM_HOLD_STATUS_SECONDS))
            while not self.first.done():
                yield KEEPALIVE
                await asyncio.wait({self.first}, timeout=interval)
            item = self.first.result()
            while True:
                if isinstance(item, StreamEnd):
                    self.end = item
                elif isinstance(item, StreamUsage):
                    self.reported = item.usage
                elif item:
                    yield self._chunk(item)
                try:
                    item = await anext(self.items)
                except StopAsyncIteration:
                    break
            usage = self._usage()
            finish = (self.end.finish_reason if self.end else "") or self.finish_reason
            cost = await self.flight.finish(
                status=STATUS_SUCCESS,
                http_status=200,
                usage=usage,
                finish_reason=finish,
                native_finish_reason=(self.end.native_finish_reason if self.end else "") or finish,
                upstream_id=self.end.upstream_id if self.end else "",
                completion_text=self._text(),
                usage_reported=self._usage_reported(),
            )
            for event in self.closing(usage, cost):
                yield event
        except Exception as exc:
            error = _as_upstream_error(exc, self.flight)
            telemetry.upstream_error(provider=self.flight.target.provider_slug, kind=error.kind)
            await self._settle_error(error, http_status=200)
            for event in self.failure(error):
                yield event
        finally:
            # Reached on the client hanging up too (cancellation or aclose): stop the upstream
            # call, then bill what it produced. Settlement itself is shielded.
            if not self.flight.settled:
                await self._abandon()
            telemetry.stream_closed()

    # -- the surface's wire (chat completions here; other surfaces override these) -------------

    def error_reply(self, error: UpstreamError) -> Reply:
        """The answer when the upstream fails before the status line went out."""
        return upstream_error_response(self.flight, error)

    def closing(self, usage: Usage, cost: int) -> list[bytes]:
        """The events after the last chunk: the usage chunk, then [DONE]."""
        body = {**self.prefix, "choices": [], "usage": usage_body(usage, cost)}
        return [b"data: " + orjson.dumps(body) + b"\n\n", DONE]

    def failure(self, error: UpstreamError) -> list[bytes]:
        """The events for a failure after the 200 went out."""
        body = {
            **self.prefix,
            "error": {"message": error.message, "code": error.status, "type": error.kind},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        }
        return [b"data: " + orjson.dumps(body) + b"\n\n", DONE]

    def _usage_reported(self) -> bool:
        """Whether the usage is the provider's (not the gateway's count of what went by)."""
        return (self.end is not None and self.end.usage is not None) or self.reported is not None

    def _text(self) -> str | None:
        return None if self.texts is None else "".join(self.texts)

    async def _settle_error(self, error: UpstreamError, *, http_status: int) -> None:
        await self.flight.finish(
            status=STATUS_ERROR,
            http_status=http_status if http_status != 200 else error.status,
            usage=self._usage(),
            finish_reason="error",
            native_finish_reason=error.kind,
            error=error.message,
            error_kind=error.kind,
            produced_output=self.chars > 0,
            completion_text=self._text(),
            usage_reported=self._usage_reported(),
        )

    async def _settle_cancelled(self) -> None:
        await self.flight.finish(
            status=STATUS_CANCELLED,
            http_status=499,
            usage=self._usage(),
            finish_reason="cancelled",
            native_finish_reason="client_disconnected",
            error="The client disconnected.",
            produced_output=self.chars > 0,
            completion_text=self._text(),
            usage_reported=self._usage_reported(),
        )
