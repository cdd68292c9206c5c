"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, Groq, Together, DeepSeek…).

Built on the official SDK (AsyncOpenAI over its aiohttp transport) with retries
off: the gateway decides retries. The SDK handles auth, headers, timeouts and
status errors; the body is read raw and parsed with orjson, which spares a
pydantic model per chunk on the hot path. Streams always ask for usage.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import orjson

from gateway.providers.base import Completion, StreamEnd, StreamItem, Target, UpstreamError, Usage
from gateway.providers.clients import aclose_clients  # noqa: F401 (callers close clients through here)
from gateway.providers.clients import client_for as shared_client

_SECRETISH = re.compile(r"(sk|pk|key|pg)-[A-Za-z0-9_\-*]{6,}")
# Gateway-only fields; `reasoning` is OpenRouter's and becomes OpenAI's `reasoning_effort`.
_NOT_FORWARDED = ("mock_delay_ms", "provider", "reasoning")


def _http_client() -> Any:
    try:
        return openai.DefaultAioHttpClient()
    except RuntimeError:  # the aiohttp extra is missing: the SDK's httpx transport works too
        return openai.DefaultAsyncHttpxClient()


def client_for(target: Target, *, streaming: bool) -> openai.AsyncOpenAI:
    """One client (and connection pool) per base URL, key and timeouts, reused across requests."""
    read = target.idle_timeout if streaming else target.first_byte_timeout

    def make() -> tuple[openai.AsyncOpenAI, Any]:
        client = openai.AsyncOpenAI(
            api_key=target.api_key or "none",
            base_url=target.base_url or None,
            max_retries=0,
            timeout=httpx2.Timeout(read, connect=target.connect_timeout),
            http_client=_http_client(),
        )
        return client, client.close

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
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError | OSError):
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


def _body(request: dict[str, Any], target: Target) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    extra = {k: v for k, v in request.items() if k not in ("messages", "stream", *_NOT_FORWARDED)}
    effort = (request.get("reasoning") or {}).get("effort")
    if isinstance(effort, str) and "reasoning_effort" not in extra:
        extra["reasoning_effort"] = effort
    if "top_k" in extra and "api.openai.com" in target.base_url:
        del extra["top_k"]  # OpenAI itself refuses it; compatible servers (vLLM, Ollama) take it
    extra["model"] = target.upstream_model
    return request["messages"], extra


class OpenAIAdapter:
    async def complete(self, request: dict[str, Any], target: Target) -> Completion:
        client = client_for(target, streaming=False)
        messages, extra = _body(request, target)
        try:
            async with client.chat.completions.with_streaming_response.create(
                model=target.upstream_model, messages=messages, stream=False, extra_body=extra
            ) as response:
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
        client = client_for(target, streaming=True)
        messages, extra = _body(request, target)
        extra["stream_options"] = {"include_usage": True}
        usage: Usage | None = None
        finish = ""
        upstream_id = ""
        done = False
        try:
            async with client.chat.completions.with_streaming_response.create(
                model=target.upstream_model, messages=messages, stream=True, extra_body=extra
            ) as response:
                async for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
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
        except Exception as exc:
            raise classify(exc, target) from exc
        if not done and not finish:
            raise UpstreamError("connect", f"{target.provider_name} closed the stream before it ended.")
        yield StreamEnd(
            usage=usage, finish_reason=finish, native_finish_reason=finish, upstream_id=upstream_id
        )
