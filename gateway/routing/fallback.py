"""The attempt loop: one request, several endpoints, until one answers.

``Failover`` looks like a single adapter to the view (``complete`` and ``stream``)
but walks the candidate routes in order: the request's model's endpoints by
priority (or by ``provider`` preferences), then the next model of ``models: [...]``.
A failure before the first byte reaches the client moves on: a retryable one
(connect, timeout, 429, 5xx, overloaded) may first be retried on the same endpoint
after a jittered backoff or the provider's Retry-After (``gateway.routing.retry``); an
endpoint fault (auth, not found, unreadable answer) goes straight to the next
endpoint; a fault of the request itself (400) ends the loop. Once a stream's first
item is out, failures are the stream's, never retried.

The flight follows the attempt: ``flight.route`` is the endpoint being tried, so
the response's ``model``/``provider``, the Generation and the charge name the
one that answered, and ``flight.attempts`` lists every call (endpoint, provider,
outcome, milliseconds) for ``Generation.attempts``.

The hold is placed once, before the first attempt, for the dearest candidate
(``hold_route``): every price the highest among the candidates, the largest output
cap. Whichever endpoint answers, its cost fits in the hold, and settlement charges
that endpoint's actual cost and releases the rest, so no second hold is needed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from django.conf import settings

from catalog.targets import Target
from gateway.pipeline.flight import Flight
from gateway.providers import get_adapter
from gateway.providers.base import Completion, Embeddings, StreamEnd, StreamItem, UpstreamError
from gateway.providers.clients import paced, within
from gateway.routing import circuit, observed, retry
from gateway.routing.routes import Route

logger = logging.getLogger(__name__)

T = TypeVar("T")


async def usable(routes: list[Route]) -> tuple[list[Route], dict[int, int]]:
    """Drop endpoints whose circuit is open; returns the routes left (maybe none) and their states.

    A lone candidate is checked too: with its circuit open, the request is refused at once
    rather than sent to an endpoint known to be failing.
    """
    states = await circuit.states([r.endpoint.target.endpoint_id for r in routes])
    kept = [r for r in routes if states.get(r.endpoint.target.endpoint_id) != circuit.OPEN]
    return kept, states


async def retry_after(routes: list[Route]) -> int:
    """Whole seconds (at least 1) until one of ``routes`` takes a half-open probe."""
    wait = await circuit.reopens_in([r.endpoint.target.endpoint_id for r in routes])
    return max(1, math.ceil(wait))


def hold_route(routes: list[Route]) -> Route:
    """A route priced as the dearest of ``routes`` in every respect, for sizing the hold."""
    first = routes[0]
    if len(routes) == 1:
        return first
    endpoints = [r.endpoint for r in routes]
    target = dataclasses.replace(
        first.endpoint.target, max_output_tokens=max(e.target.max_output_tokens or 4096 for e in endpoints)
    )
    endpoint = dataclasses.replace(
        first.endpoint,
        target=target,
        input_price=max(e.input_price for e in endpoints),
        output_price=max(e.output_price for e in endpoints),
        cache_read_price=max(e.cache_read_price for e in endpoints),
        cache_write_price=max(e.cache_write_price for e in endpoints),
        request_price=max(e.request_price for e in endpoints),
        context_length=max(r.endpoint.context_length or r.model.context_length for r in routes),
    )
    return Route(model=first.model, endpoint=endpoint)


def _body_for(body: dict[str, Any], target: Target) -> dict[str, Any]:
    """The request for one endpoint: the output cap never above what that endpoint accepts."""
    cap = target.max_output_tokens
    if cap and body.get("max_tokens") and body["max_tokens"] > cap:
        return {**body, "max_tokens": cap}
    return body


class Failover:
    def __init__(self, flight: Flight, routes: list[Route], states: dict[int, int] | None = None) -> None:
        self.flight = flight
        self.routes = routes
        self.states = states or {}
        # Called with the route about to be tried (a stream relabels its chunks with it).
        self.on_route: Callable[[Route], None] | None = None

    def _switch(self, route: Route) -> None:
        self.flight.route = route
        if self.on_route is not None:
            self.on_route(route)

    def _record(self, route: Route, outcome: str, started: float, status: int | None = None) -> None:
        target = route.endpoint.target
        self.flight.attempts.append(
            {
                "endpoint_id": target.endpoint_id,
                "model": target.model_slug,
                "provider": target.provider_slug,
                "status": status,
                "outcome": outcome,
                "ms": int((time.monotonic() - started) * 1000),
            }
        )

    async def _attempts(self, call: Callable[[Route], Awaitable[T]]) -> T:
        calls = 0
        last: UpstreamError | None = None
        for route in self.routes:
            endpoint_id = route.endpoint.target.endpoint_id
            retries = 0
            while True:
                calls += 1
                self._switch(route)
                started = time.monotonic()
                try:
                    result = await call(route)
                except UpstreamError as error:
                    self._record(route, error.kind, started, error.native_status or error.status)
                    opened = False
                    if error.retryable:
                        opened = (
                            await circuit.record_failure(endpoint_id) >= settings.CIRCUIT_FAILURE_THRESHOLD
                        )
                    last = error
                    if not retry.may_fall_back(error) or calls >= settings.ROUTING_MAX_ATTEMPTS:
                        raise
                    retries += 1
                    delay = None if opened else retry.retry_delay(error, retries)
                    if delay is None:
                        break  # the next endpoint (no retry against an open circuit)
                    provider = route.endpoint.target.provider_slug
                    logger.info("retrying %s after %s in %.2fs", provider, error.kind, delay)
                    await asyncio.sleep(delay)
                    continue
                self._record(route, "success", started, 200)
                observed.record_latency(endpoint_id, (time.monotonic() - started) * 1000)
                await circuit.record_success(endpoint_id, self.states.get(endpoint_id, circuit.CLOSED))
                return result
        assert last is not None  # the loop ran at least once: routes is never empty
        raise last

    # -- the adapter interface -----------------------------------------------------------------

    async def complete(self, body: dict[str, Any], target: Target | None = None) -> Completion:
        async def call(route: Route) -> Completion:
            t = route.endpoint.target
            started = time.monotonic()
            completion = await within(
                get_adapter(t.protocol).complete(_body_for(body, t), t),
                t.connect_timeout + t.first_byte_timeout,
                "response",
            )
            observed.record_throughput(
                t.endpoint_id, completion.usage.completion_tokens, time.monotonic() - started
            )
            return completion

        return await self._attempts(call)

    async def embed(self, body: dict[str, Any], target: Target | None = None) -> Embeddings:
        async def call(route: Route) -> Embeddings:
            t = route.endpoint.target
            return await within(
                get_adapter(t.protocol).embed(body, t),  # type: ignore[attr-defined]
                t.connect_timeout + t.first_byte_timeout,
                "response",
            )

        return await self._attempts(call)

    async def stream(self, body: dict[str, Any], target: Target | None = None) -> AsyncIterator[StreamItem]:
        async def open_stream(route: Route) -> tuple[AsyncIterator[StreamItem], StreamItem]:
            t = route.endpoint.target
            items = paced(
                get_adapter(t.protocol).stream(_body_for(body, t), t),
                first=t.connect_timeout + t.first_byte_timeout,
                idle=t.idle_timeout,
            )
            try:
                first = await anext(items)
            except BaseException as exc:
                await _close(items)
                if isinstance(exc, StopAsyncIteration):
                    raise UpstreamError("bad_response", f"{t.provider_name} sent an empty stream.") from None
                raise
            return items, first

        items, first = await self._attempts(open_stream)
        endpoint_id = self.flight.target.endpoint_id
        started = time.monotonic()
        try:
            item: StreamItem = first
            while True:
                if isinstance(item, StreamEnd) and item.usage is not None:
                    observed.record_throughput(
                        endpoint_id, item.usage.completion_tokens, time.monotonic() - started
                    )
                yield item
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
        finally:
            await _close(items)


async def _close(items: AsyncIterator[Any]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except BaseException:  # noqa: S110 — closing an upstream stream is best effort
            pass
