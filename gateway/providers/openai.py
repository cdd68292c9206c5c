"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, Groq, Together, DeepSeek…).

Configured by the official SDK (an AsyncOpenAI client with retries off: the
gateway decides retries), sent by ``gateway.providers.openai_wire``: the SDK's
base URL, authentication, default headers and status errors, with the body
serialised once by orjson and sent raw on aiohttp, and the answer read raw and
parsed with orjson. No pydantic model per request or per chunk on the hot path.
Streams always ask for usage.
"""

from __future__ import annotations

import array
import base64
import binascii
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2
import openai
import orjson

from catalog.targets import Target
from gateway.pipeline.tokens import count_tokens
from gateway.providers import openai_responses
from gateway.providers.base import Completion, Embeddings, StreamEnd, StreamItem, UpstreamError, Usage
from gateway.providers.clients import aclose_clients  # noqa: F401 (callers close clients through here)
from gateway.providers.clients import client_for as shared_client
from gateway.providers.openai_wire import LineTooLong, Wire, lines

_SECRETISH = re.compile(r"(sk|pk|key|pg)-[A-Za-z0-9_\-*]{6,}")
# Gateway-only fields; `reasoning` is OpenRouter's and becomes OpenAI's `reasoning_effort`;
# `anthropic_beta` (from the Messages surface's header) is for Anthropic models only.
_NOT_FORWARDED = ("mock_delay_ms", "provider", "reasoning", "anthropic_beta")


def client_for(target: Target, *, streaming: bool) -> openai.AsyncOpenAI:
    """The SDK client for ``target``, configured as the wire uses it."""
    return wire_for(target, streaming=streaming).client


def wire_for(target: Target, *, streaming: bool) -> Wire:
    """One wire (SDK client, headers, connection pool) per base URL, key and timeouts, reused."""
    read = target.idle_timeout if streaming else target.first_byte_timeout

    def make() -> tuple[Wire, Any]:
        client = openai.AsyncOpenAI(
            api_key=target.api_key or "none",
            base_url=target.base_url or None,
            max_retries=0,
            timeout=httpx2.Timeout(read, connect=target.connect_timeout),
        )
        wire = Wire(client, connect=target.connect_timeout, read=read)
        return wire, wire.close

    return shared_client(("openai", target.base_url, target.api_key, target.connect_timeout, read), make)


def _scrub(message: str, target: Target) -> str:
    """A provider's error text without anything that looks like a credential."""
    if target.api_key:
        message = message.replace(target.api_key, "***")
    return _SECRETISH.sub("***", message)[:1000]


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def _error_message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
    return fallback


def _refused(exc: BaseException) -> bool:
    """The aiohttp transport reports a refused connection as a ConnectTimeout; tell them apart."""
    cause = exc.__cause__ if isinstance(exc, openai.APITimeoutError) else exc
    return isinstance(cause, httpx2.ConnectTimeout) and "Connect call failed" in str(cause)


def classify(exc: BaseException, target: Target) -> UpstreamError:
    """Map an SDK or transport failure to an UpstreamError (status the client will see)."""
    if isinstance(exc, UpstreamError):
        return exc
    if _refused(exc):
        return UpstreamError("connect", f"Could not reach {target.provider_name}: connection failed.")
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return UpstreamError("timeout", f"{target.provider_name} timed out.", status=504)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = _scrub(_error_message(exc.body, str(exc.message)), target)
        extra = {"request_id": exc.request_id or ""}
        if status == 429:
            return UpstreamError(
                "rate_limit",
                f"{target.provider_name} is rate limited: {message}",
                status=429,
                retry_after=_retry_after(exc.response.headers),
                native_status=status,
                extra=extra,
            )
        if status in (400, 413, 422):
            return UpstreamError("invalid_request", message, status=400, native_status=status, extra=extra)
        if status in (401, 403):
            # Never echo the provider's text here: it may quote part of our credential.
            return UpstreamError(
                "auth", f"{target.provider_name} rejected the gateway's credentials.", native_status=status
            )
        if status == 404:
            return UpstreamError(
                "not_found", f"{target.provider_name}: {message}", native_status=status, extra=extra
            )
        if status in (503, 529):
            return UpstreamError(
                "overloaded",
                f"{target.provider_name} is overloaded: {message}",
                native_status=status,
                extra=extra,
            )
        return UpstreamError(
            "server", f"{target.provider_name} error {status}: {message}", native_status=status, extra=extra
        )
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError | aiohttp.ClientError | OSError):
        return UpstreamError("connect", f"Could not reach {target.provider_name}: connection failed.")
    return UpstreamError(
        "bad_response", f"{target.provider_name} sent a response the gateway could not read."
    )


def usage_from(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(data.get("prompt_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0),
        cache_write_tokens=int(
            prompt_details.get("cache_write_tokens") or data.get("cache_write_tokens") or 0
        ),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def _body(request: dict[str, Any], target: Target, *, stream: bool) -> bytes:
    """The upstream's JSON body: the request's checked fields, its model, and ``stream``."""
    body = {k: v for k, v in request.items() if k not in _NOT_FORWARDED}
    effort = (request.get("reasoning") or {}).get("effort")
    if isinstance(effort, str) and "reasoning_effort" not in body:
        body["reasoning_effort"] = effort
    if "top_k" in body and "api.openai.com" in target.base_url:
        del body["top_k"]  # OpenAI itself refuses it; compatible servers (vLLM, Ollama) take it
    body["model"] = target.upstream_model
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def _vector(value: Any) -> list[float]:
    """An embedding as floats: OpenAI's list, or its base64 of little-endian float32."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise TypeError("embedding is not base64") from None
        if len(raw) % 4:
            raise TypeError("embedding is not float32")
        values = array.array("f", raw)
        if sys.byteorder == "big":
            values.byteswap()  # the wire is little-endian
        return values.tolist()
    if not isinstance(value, list) or not all(isinstance(v, int | float) for v in value):
        raise TypeError("embedding is not a list of numbers")
    return [float(v) for v in value]


def embeddings_from(data: Any, inputs: list[Any]) -> Embeddings:
    """The upstream's embeddings list, in input order, with its usage (counted when it gave none)."""
    items = sorted(data["data"], key=lambda item: item["index"])
    if [item["index"] for item in items] != list(range(len(inputs))):
        raise TypeError("the embeddings do not match the inputs one to one")
    usage = data.get("usage") or {}
    tokens = usage.get("prompt_tokens")
    if not isinstance(tokens, int):
        tokens = sum(count_tokens(i) if isinstance(i, str) else len(i) for i in inputs)
    return Embeddings(
        vectors=[_vector(item["embedding"]) for item in items], usage=Usage(prompt_tokens=tokens)
    )


class OpenAIAdapter:
    async def embed(self, request: dict[str, Any], target: Target) -> Embeddings:
        # base64 as the official SDK asks by default: a quarter of the JSON floats' size.
        body = {"model": target.upstream_model, "input": request["input"], "encoding_format": "base64"}
        for name in ("dimensions", "user"):
            if request.get(name) is not None:
                body[name] = request[name]
        wire = wire_for(target, streaming=False)
        try:
            async with wire.post(orjson.dumps(body), "/embeddings") as response:
                await wire.raise_for_status(response)
                raw = await response.read()
                upstream_id = response.headers.get("x-request-id", "")
            result = embeddings_from(orjson.loads(raw), request["input"])
        except Exception as exc:
            raise classify(exc, target) from exc
        result.upstream_id = upstream_id
        return result

    async def complete(self, request: dict[str, Any], target: Target) -> Completion:
        wire = wire_for(target, streaming=False)
        if target.responses_api:
            try:
                return await openai_responses.complete(wire, request, target)
            except Exception as exc:
                raise classify(exc, target) from exc
        try:
            async with wire.post(_body(request, target, stream=False)) as response:
                await wire.raise_for_status(response)
                raw = await response.read()
                upstream_id = response.headers.get("x-request-id", "")
            data = orjson.loads(raw)
            choices = data["choices"]
            if not isinstance(choices, list):
                raise TypeError("choices is not a list")
        except Exception as exc:
            raise classify(exc, target) from exc
        usage = usage_from(data.get("usage")) or Usage()
        native = str(choices[0].get("finish_reason") or "") if choices else ""
        for choice in choices:
            choice.setdefault("logprobs", None)
            message = choice.get("message") or {}
            message.setdefault("refusal", None)
            choice["message"] = message
        return Completion(
            choices=choices,
            usage=usage,
            native_finish_reason=native,
            upstream_id=data.get("id") or upstream_id,
        )

    async def stream(self, request: dict[str, Any], target: Target) -> AsyncIterator[StreamItem]:
        wire = wire_for(target, streaming=True)
        if target.responses_api:
            try:
                async for item in openai_responses.stream(wire, request, target):
                    yield item
            except Exception as exc:
                raise classify(exc, target) from exc
            return
        usage: Usage | None = None
        finish = ""
        upstream_id = ""
        done = False
        try:
            async with wire.post(_body(request, target, stream=True)) as response:
                await wire.raise_for_status(response)
                async for line in lines(response):
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        done = True
                        break
                    chunk = orjson.loads(payload)
                    if chunk.get("error"):
                        raise UpstreamError(
                            "server",
                            _scrub(
                                f"{target.provider_name}: {_error_message(chunk, 'stream error')}", target
                            ),
                        )
                    upstream_id = upstream_id or chunk.get("id") or ""
                    if chunk.get("usage"):
                        usage = usage_from(chunk["usage"])
                    choices = chunk.get("choices")
                    if choices:
                        for choice in choices:
                            if choice.get("finish_reason"):
                                finish = choice["finish_reason"]
                        yield choices
        except UpstreamError:
            raise
        except LineTooLong as exc:
            raise UpstreamError("bad_response", f"{target.provider_name} sent {exc}.") from exc
        except Exception as exc:
            raise classify(exc, target) from exc
        if not done and not finish:
            raise UpstreamError("connect", f"{target.provider_name} closed the stream before it ended.")
        yield StreamEnd(
            usage=usage, finish_reason=finish, native_finish_reason=finish, upstream_id=upstream_id
        )
