"""Google Gemini (``generateContent`` / ``streamGenerateContent``) through ``google-genai``'s
async client, on an aiohttp session of our own.

OpenAI → Gemini: system and developer messages become ``systemInstruction``; roles
become ``user``/``model`` with consecutive turns merged; tool results become
``functionResponse`` parts whose function name is recovered from the earlier call;
images become ``inlineData`` (http(s) URLs are fetched, bounded, since the Gemini API
only takes its own file URIs). Gemini → OpenAI: ``functionCall`` parts become
``tool_calls`` with an id synthesised when Gemini gives none and the call's
``thoughtSignature`` carried inside the id (see ``translate.join_call_id``).

The session is ours rather than the SDK's because the SDK builds its own by
subclassing ``aiohttp.ClientSession``, which aiohttp deprecates; and SDK retries are
off, including its silent retry of failed connections.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import aiohttp
import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from catalog.targets import Target
from gateway.pipeline.tokens import count_tokens
from gateway.providers.base import (
    Completion,
    Embeddings,
    StreamEnd,
    StreamItem,
    StreamUsage,
    UpstreamError,
    Usage,
)
from gateway.providers.clients import client_for, paced, within
from gateway.providers.images import fetch_images
from gateway.providers.params import enforce_supported, reasoning_request, stop_sequences
from gateway.providers.translate import (
    arguments_object,
    assistant_message,
    delta_choice,
    file_data_of,
    image_url_of,
    invalid,
    is_synthetic_call_id,
    join_call_id,
    new_call_id,
    parse_data_url,
    parts_of,
    retry_after_seconds,
    scrubbed,
    split_call_id,
    text_of,
    tool_call,
)

PROVIDER = "Google Gemini"
API_VERSION = "v1beta"  # systemInstruction, thinking and JSON-schema output are on v1beta
SUPPORTED = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "seed",
        "n",
        "frequency_penalty",
        "presence_penalty",
        "logprobs",
        "top_logprobs",
        "tools",
        "tool_choice",
        "response_format",
        "reasoning_effort",
        "reasoning",
    }
)
THINKING_BUDGETS = {
    "none": 0,
    "minimal": 128,
    "low": 1024,
    "medium": 4096,
    "high": 16384,
    "xhigh": 24576,
    "max": 24576,
}
CONTENT_FILTER_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "IMAGE_OTHER",
        "LANGUAGE",
        "OTHER",
    }
)
AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}
_VERSION_SUFFIX = re.compile(r"/(v1|v1beta|v1alpha)/?$")


# ---------------------------------------------------------------------------- request


def _b64decode(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("content holds invalid base64") from None


def _inline(mime: str, data_b64: str) -> dict[str, Any]:
    # The SDK takes bytes and base64-encodes them again on the wire.
    return {"inline_data": {"mime_type": mime, "data": _b64decode(data_b64)}}


def _http_image_urls(messages: list[dict[str, Any]]) -> list[str]:
    urls = []
    for message in messages:
        if message.get("role") != "user" or not isinstance(message.get("content"), list):
            continue
        for part in parts_of(message["content"]):
            if part.get("type") == "image_url":
                url = image_url_of(part)
                if url.startswith(("http://", "https://")):
                    urls.append(url)
    return urls


def _user_parts(content: Any, fetched: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in parts_of(content):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            url = image_url_of(part)
            inline = parse_data_url(url) or fetched.get(url)
            if not inline:
                raise invalid("image URLs must be http(s) or data: URLs")
            parts.append(_inline(*inline))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            mime = AUDIO_MIME.get(str(audio.get("format")))
            if not mime or not audio.get("data"):
                raise invalid("input_audio needs base64 data and a format of wav or mp3")
            parts.append(_inline(mime, audio["data"]))
        elif kind == "file":
            parts.append(_inline(*file_data_of(part)))
        else:
            raise invalid(f"unsupported content part type {kind!r}")
    return parts


def _signature_of(call: dict[str, Any]) -> bytes | None:
    """The thought signature of an OpenAI tool call: in its id (ours), or in the
    ``extra_content.google.thought_signature`` field Google's own OpenAI layer uses."""
    _base, signature = split_call_id(call.get("id") or "")
    if signature:
        return signature
    extra = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
    return _b64decode(extra) if isinstance(extra, str) and extra else None


def _gemini_call_id(call_id: str) -> str | None:
    """The id to echo to Gemini: its own ids only, never one the gateway made up."""
    base = split_call_id(call_id)[0]
    return None if not base or is_synthetic_call_id(base) else base


async def convert_messages(
    messages: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages → (systemInstruction parts, Gemini contents)."""
    fetched = await fetch_images(_http_image_urls(messages))
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names_by_call_id: dict[str, str] = {}

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": list(parts)})

    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            text = text_of(message.get("content"))
            if text.strip():
                system.append({"text": text})
        elif role == "user":
            add("user", _user_parts(message.get("content"), fetched))
        elif role == "assistant":
            parts: list[dict[str, Any]] = []
            text = text_of(message.get("content"))
            if text:
                parts.append({"text": text})
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                name = function.get("name") or ""
                names_by_call_id[call.get("id") or ""] = name
                function_call: dict[str, Any] = {
                    "name": name,
                    "args": arguments_object(function.get("arguments")),
                }
                gemini_id = _gemini_call_id(call.get("id") or "")
                if gemini_id:
                    function_call["id"] = gemini_id
                part: dict[str, Any] = {"function_call": function_call}
                signature = _signature_of(call)
                if signature:
                    part["thought_signature"] = signature
                parts.append(part)
            add("model", parts)
        elif role == "tool":
            call_id = message.get("tool_call_id") or ""
            name = names_by_call_id.get(call_id) or message.get("name")
            if not name:
                raise invalid(f"tool message {call_id!r} answers no earlier tool call")
            response: dict[str, Any] = {
                "name": name,
                "response": {"content": text_of(message.get("content"))},
            }
            gemini_id = _gemini_call_id(call_id)
            if gemini_id:
                response["id"] = gemini_id
            add("user", [{"function_response": response}])
        else:
            raise invalid(f"unsupported message role {role!r}")

    out = []
    for content in contents:
        if content["parts"]:
            out.append(content)
        elif content["role"] == "user":
            out.append({"role": "user", "parts": [{"text": " "}]})  # Gemini rejects a user turn without parts
    return system, out or [{"role": "user", "parts": [{"text": " "}]}]


def _tool_settings(request: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    declarations = []
    for tool in request.get("tools") or []:
        if tool.get("type", "function") != "function":
            raise invalid(f"unsupported tool type {tool.get('type')!r}", "tools")
        function = tool.get("function") or {}
        declaration: dict[str, Any] = {"name": function.get("name")}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters"):
            declaration["parameters_json_schema"] = function["parameters"]  # plain JSON Schema
        declarations.append(declaration)
    if declarations:
        config["tools"] = [{"function_declarations": declarations}]
    choice = request.get("tool_choice")
    calling: dict[str, Any] | None = None
    if choice in ("auto", "required", "none"):
        calling = {"mode": {"auto": "AUTO", "required": "ANY", "none": "NONE"}[choice]}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not name:
            raise invalid("tool_choice must name a function", "tool_choice")
        calling = {"mode": "ANY", "allowed_function_names": [name]}
    if calling and declarations:
        config["tool_config"] = {"function_calling_config": calling}
    return config


def build_config(request: dict[str, Any], target: Target, system: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``GenerateContentConfig`` for this OpenAI request."""
    config: dict[str, Any] = {"automatic_function_calling": {"disable": True}}
    if system:
        config["system_instruction"] = {"parts": system}
    max_tokens = request.get("max_tokens") or target.max_output_tokens
    if max_tokens:
        config["max_output_tokens"] = int(max_tokens)
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("top_k", "top_k"),
        ("seed", "seed"),
        ("presence_penalty", "presence_penalty"),
        ("frequency_penalty", "frequency_penalty"),
    ):
        if request.get(ours) is not None:
            config[theirs] = request[ours]
    if request.get("logprobs"):
        config["response_logprobs"] = True
        if request.get("top_logprobs"):
            config["logprobs"] = int(request["top_logprobs"])
    if (request.get("n") or 1) > 1:
        config["candidate_count"] = int(request["n"])
    stops = stop_sequences(request)
    if stops:
        config["stop_sequences"] = stops

    response_format = request.get("response_format") or {}
    if response_format.get("type") in ("json_object", "json_schema"):
        config["response_mime_type"] = "application/json"
        schema = (response_format.get("json_schema") or {}).get("schema")
        if response_format["type"] == "json_schema" and schema:
            config["response_json_schema"] = schema

    effort, budget, exclude = reasoning_request(request)
    if budget is None and effort in THINKING_BUDGETS:
        budget = THINKING_BUDGETS[effort]
    if budget is not None:
        config["thinking_config"] = {
            "thinking_budget": budget,
            "include_thoughts": budget > 0 and not exclude,
        }

    config.update(_tool_settings(request))
    return config


# --------------------------------------------------------------------------- response


def _value(enum_or_str: Any) -> str:
    return str(getattr(enum_or_str, "value", enum_or_str) or "")


def finish_reason_for(native: str, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"  # Gemini says STOP when it calls a function
    if native == "MAX_TOKENS":
        return "length"
    if native in CONTENT_FILTER_REASONS or native.startswith("IMAGE_"):
        return "content_filter"
    return "stop"


def usage_from(raw: Any) -> Usage | None:
    """Gemini's candidatesTokenCount excludes thoughts; OpenAI's completion_tokens include them."""
    if raw is None:
        return None
    thoughts = raw.thoughts_token_count or 0
    return Usage(
        prompt_tokens=(raw.prompt_token_count or 0) + (raw.tool_use_prompt_token_count or 0),
        completion_tokens=(raw.candidates_token_count or 0) + thoughts,
        cached_tokens=raw.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
    )


def _logprob(candidate: Any) -> dict[str, Any]:
    token = candidate.token or ""
    return {"token": token, "logprob": candidate.log_probability or 0.0, "bytes": list(token.encode())}


def logprobs_from(result: Any) -> dict[str, Any] | None:
    """Gemini's logprobsResult → OpenAI's ``choice.logprobs`` (chosen token, then alternatives)."""
    if result is None or not result.chosen_candidates:
        return None
    tops = result.top_candidates or []
    content = []
    for i, chosen in enumerate(result.chosen_candidates):
        entry = _logprob(chosen)
        alternatives = (tops[i].candidates or []) if i < len(tops) else []
        entry["top_logprobs"] = [_logprob(c) for c in alternatives]
        content.append(entry)
    return {"content": content, "refusal": None}


def _split_parts(parts: Any, exclude_reasoning: bool) -> tuple[str, str, list[dict[str, Any]]]:
    texts, thoughts, calls = [], [], []
    for part in parts or []:
        if part.function_call is not None:
            call = part.function_call
            call_id = join_call_id(call.id or new_call_id(), part.thought_signature)
            calls.append(tool_call(call_id, call.name or "", call.args or {}))
        elif part.text:
            if part.thought:
                if not exclude_reasoning:
                    thoughts.append(part.text)
            else:
                texts.append(part.text)
    return "".join(texts), "".join(thoughts), calls


def completion_from(response: Any, *, exclude_reasoning: bool = False) -> Completion:
    choices = []
    natives = []
    for position, candidate in enumerate(response.candidates or []):
        text, thoughts, calls = _split_parts(
            (candidate.content and candidate.content.parts) or [], exclude_reasoning
        )
        native = _value(candidate.finish_reason)
        natives.append(native)
        choices.append(
            {
                "index": candidate.index if candidate.index is not None else position,
                "message": assistant_message(
                    content=text if text or not calls else None, tool_calls=calls, reasoning=thoughts
                ),
                "finish_reason": finish_reason_for(native, bool(calls)),
                "logprobs": logprobs_from(candidate.logprobs_result),
            }
        )
    if not choices:
        # A blocked prompt: no candidates, the reason in promptFeedback.
        feedback = response.prompt_feedback
        native = _value(feedback.block_reason) if feedback and feedback.block_reason else "NO_CANDIDATES"
        natives.append(native)
        choices.append(
            {
                "index": 0,
                "message": assistant_message(content="", tool_calls=[]),
                "finish_reason": "content_filter" if native != "NO_CANDIDATES" else "stop",
                "logprobs": None,
            }
        )
    return Completion(
        choices=sorted(choices, key=lambda c: c["index"]),
        usage=usage_from(response.usage_metadata) or Usage(),
        native_finish_reason=natives[0],
        upstream_id=response.response_id or "",
    )


# ----------------------------------------------------------------------------- errors

# A provider that says when to come back, whether rate-limited or overloaded.
_RETRY_AFTER_KINDS = frozenset({"rate_limit", "overloaded"})
_KINDS_BY_STATUS = {
    "INVALID_ARGUMENT": ("invalid_request", 400),
    "FAILED_PRECONDITION": ("invalid_request", 400),
    "OUT_OF_RANGE": ("invalid_request", 400),
    "UNAUTHENTICATED": ("auth", 502),
    "PERMISSION_DENIED": ("auth", 502),
    "NOT_FOUND": ("not_found", 502),
    "RESOURCE_EXHAUSTED": ("rate_limit", 429),
    "UNAVAILABLE": ("overloaded", 503),
    "DEADLINE_EXCEEDED": ("timeout", 504),
    "INTERNAL": ("server", 502),
    "UNKNOWN": ("server", 502),
}
_KINDS_BY_CODE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
_KINDS_BY_CODE |= {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def _retry_delay(error: genai_errors.APIError) -> float | None:
    response = getattr(error, "response", None)
    seconds = retry_after_seconds(getattr(response, "headers", None))
    if seconds is not None:
        return seconds
    for detail in (
        error.details.get("error", {}).get("details", []) if isinstance(error.details, dict) else []
    ):
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None


def map_error(exc: BaseException, *, streaming: bool = False) -> UpstreamError:
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        status = exc.status or _KINDS_BY_CODE.get(exc.code or 0, "")
        kind, gateway_status = _KINDS_BY_STATUS.get(status) or (
            ("invalid_request", 400) if 400 <= (exc.code or 0) < 500 else ("server", 502)
        )
        return UpstreamError(
            kind=kind,
            status=gateway_status,
            message=f"{PROVIDER}: {exc.message or status}",
            retry_after=_retry_delay(exc) if kind in _RETRY_AFTER_KINDS else None,
            native_status=exc.code,
            extra={"type": status} if status else {},
        )
    # google-genai lets transport errors through untranslated.
    if isinstance(exc, (TimeoutError, httpx2.TimeoutException)):
        return UpstreamError(kind="timeout", status=504, message=f"{PROVIDER} timed out.")
    if isinstance(exc, (aiohttp.ClientConnectorError, httpx2.ConnectError)) and not streaming:
        return UpstreamError(kind="connect", status=502, message=f"Could not reach {PROVIDER}.")
    if isinstance(exc, (aiohttp.ClientError, httpx2.TransportError, ConnectionError)):
        if streaming:
            return UpstreamError(kind="server", status=502, message=f"{PROVIDER} closed the stream early.")
        return UpstreamError(kind="connect", status=502, message=f"Connection to {PROVIDER} failed.")
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        return UpstreamError(
            kind="bad_response", status=502, message=f"{PROVIDER} sent a response that could not be read."
        )
    raise exc


# ---------------------------------------------------------------------------- adapter


# The SDK's stream generators do not close their HTTP response when closed early, so a
# client that hangs up would leave Gemini generating (and billing) to the end. The
# session's trace hook hands each response to the stream that asked for it, which
# closes it itself.
_responses: ContextVar[list[aiohttp.ClientResponse] | None] = ContextVar("gemini_responses", default=None)


async def _track_response(_session: Any, _context: Any, params: aiohttp.TraceRequestEndParams) -> None:
    tracked = _responses.get()
    if tracked is not None:
        tracked.append(params.response)


def _make_client(base_url: str, api_key: str) -> tuple[genai.Client, Any]:
    api_version = API_VERSION
    match = _VERSION_SUFFIX.search(base_url or "")
    if match:  # an operator may paste ".../v1beta" as the base URL
        api_version, base_url = match[1], base_url[: match.start()]
    tracing = aiohttp.TraceConfig()
    tracing.on_request_end.append(_track_response)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000), trace_configs=[tracing])
    client = genai.Client(
        api_key=api_key or "missing",
        vertexai=False,
        http_options=genai_types.HttpOptions(
            base_url=base_url or None,
            api_version=api_version,
            retry_options=genai_types.HttpRetryOptions(attempts=1),  # the gateway decides retries
            aiohttp_client=session,
        ),
    )

    async def close() -> None:
        await client.aio.aclose()
        await session.close()

    return client, close


# OpenRouter's ``input_type`` (and Gemini's own task names, any case) as Gemini's ``taskType``.
EMBEDDING_TASKS = {
    "search_query": "RETRIEVAL_QUERY",
    "query": "RETRIEVAL_QUERY",
    "search_document": "RETRIEVAL_DOCUMENT",
    "document": "RETRIEVAL_DOCUMENT",
    **{
        name.lower(): name
        for name in (
            "RETRIEVAL_QUERY",
            "RETRIEVAL_DOCUMENT",
            "SEMANTIC_SIMILARITY",
            "CLASSIFICATION",
            "CLUSTERING",
            "QUESTION_ANSWERING",
            "FACT_VERIFICATION",
            "CODE_RETRIEVAL_QUERY",
        )
    },
}


def embeddings_from(response: Any, inputs: list[str]) -> Embeddings:
    """``batchEmbedContents``' vectors in input order, and its prompt tokens (counted when it
    reports none)."""
    vectors = [list(embedding.values) for embedding in response.embeddings or []]
    if len(vectors) != len(inputs):
        raise ValueError("the embeddings do not match the inputs one to one")
    usage = response.usage_metadata
    tokens = usage.prompt_token_count if usage is not None else None
    if tokens is None:
        tokens = sum(count_tokens(text) for text in inputs)
    return Embeddings(vectors=vectors, usage=Usage(prompt_tokens=tokens))


class GoogleAdapter:
    def _client(self, target: Target) -> genai.Client:
        return client_for(
            ("google", target.base_url, target.api_key), lambda: _make_client(target.base_url, target.api_key)
        )

    async def embed(self, request: dict[str, Any], target: Target) -> Embeddings:
        """``embed_content`` (the SDK's ``batchEmbedContents``): text only; ``input_type`` becomes
        ``taskType``; Gemini has no ``user``."""
        inputs = request["input"]
        if not all(isinstance(text, str) for text in inputs):
            raise invalid(f"{PROVIDER} embeds text only, not token arrays", "input")
        deadline = target.connect_timeout + target.first_byte_timeout
        config: dict[str, Any] = {"http_options": {"timeout": int(deadline * 1000)}}
        if request.get("dimensions"):
            config["output_dimensionality"] = request["dimensions"]
        task = EMBEDDING_TASKS.get(str(request.get("input_type") or "").lower())
        if task:
            config["task_type"] = task
        try:
            response = await within(
                self._client(target).aio.models.embed_content(
                    model=target.upstream_model, contents=inputs, config=config
                ),
                deadline,
                "response",
            )
            return embeddings_from(response, inputs)
        except Exception as exc:
            raise scrubbed(map_error(exc), target.api_key) from exc

    async def _prepare(
        self, request: dict[str, Any], target: Target
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        enforce_supported(request, supported=SUPPORTED, provider=PROVIDER)
        system, contents = await convert_messages(request.get("messages") or [])
        return contents, build_config(request, target, system)

    async def complete(self, request: dict[str, Any], target: Target) -> Completion:
        contents, config = await self._prepare(request, target)
        deadline = target.connect_timeout + target.first_byte_timeout
        # The SDK's timeout is aiohttp's total timeout, in milliseconds.
        config["http_options"] = {"timeout": int(deadline * 1000)}
        try:
            response = await within(
                self._client(target).aio.models.generate_content(
                    model=target.upstream_model, contents=contents, config=config
                ),
                deadline,
                "response",
            )
            return completion_from(response, exclude_reasoning=reasoning_request(request)[2])
        except Exception as exc:
            raise scrubbed(map_error(exc), target.api_key) from exc

    async def stream(self, request: dict[str, Any], target: Target) -> AsyncIterator[StreamItem]:
        contents, config = await self._prepare(request, target)
        # No SDK timeout here: aiohttp's total timeout would cap the whole stream.
        # ``within`` and ``paced`` bound the first byte and each gap instead.
        first = target.connect_timeout + target.first_byte_timeout
        state = _StreamState(exclude_reasoning=reasoning_request(request)[2])
        responses: list[aiohttp.ClientResponse] = []
        tracking = _responses.set(responses)
        upstream = None
        finished = False
        try:
            try:
                # The SDK sends the request on the first read: await the first frame
                # here, while the response tracking is on.
                upstream = await self._client(target).aio.models.generate_content_stream(
                    model=target.upstream_model, contents=contents, config=config
                )
                first_frame = await within(anext(upstream, None), first, "response")
            finally:
                _responses.reset(tracking)
            if first_frame is not None:
                deltas = state.feed(first_frame)
                if state.raw_usage is not None:  # the prompt is counted, and billed, from here
                    yield StreamUsage(usage_from(state.raw_usage))
                if deltas:
                    yield deltas
                async for frame in paced(upstream, first=target.idle_timeout, idle=target.idle_timeout):
                    reported = state.raw_usage is not None
                    deltas = state.feed(frame)
                    if not reported and state.raw_usage is not None:
                        yield StreamUsage(usage_from(state.raw_usage))
                    if deltas:
                        yield deltas
            finished = True
        except Exception as exc:
            error = scrubbed(map_error(exc, streaming=bool(state.seen)), target.api_key)
            if state.raw_usage is not None:
                error.extra.setdefault("usage", usage_from(state.raw_usage))
            raise error from exc
        finally:
            if upstream is not None:
                await upstream.aclose()
            if not finished:
                for response in responses:
                    response.close()  # drop the connection: Gemini stops generating
        if not state.finish:
            raise UpstreamError(kind="server", status=502, message=f"{PROVIDER} closed the stream early.")
        indexes = sorted(state.finish)
        yield [delta_choice({}, index=i, finish_reason=state.finish_reason(i)) for i in indexes]
        yield StreamEnd(
            usage=usage_from(state.raw_usage),
            finish_reason=state.finish_reason(indexes[0]),
            native_finish_reason=state.finish[indexes[0]],
            upstream_id=state.response_id,
        )


class _StreamState:
    """Turns Gemini's whole-response frames into OpenAI deltas, one per candidate per frame."""

    def __init__(self, *, exclude_reasoning: bool) -> None:
        self.exclude_reasoning = exclude_reasoning
        self.seen: set[int] = set()
        self.tool_counts: dict[int, int] = {}
        self.finish: dict[int, str] = {}
        self.raw_usage: Any = None
        self.response_id = ""

    def finish_reason(self, index: int) -> str:
        return finish_reason_for(self.finish[index], self.tool_counts.get(index, 0) > 0)

    def feed(self, frame: Any) -> list[dict[str, Any]]:
        self.response_id = frame.response_id or self.response_id
        if frame.usage_metadata is not None:
            self.raw_usage = frame.usage_metadata  # the last frame carries the totals
        choices = []
        if not frame.candidates and frame.prompt_feedback and frame.prompt_feedback.block_reason:
            self.finish[0] = _value(frame.prompt_feedback.block_reason)
        for position, candidate in enumerate(frame.candidates or []):
            index = candidate.index if candidate.index is not None else position
            delta: dict[str, Any] = {}
            if index not in self.seen:
                self.seen.add(index)
                delta = {"role": "assistant", "content": ""}
            text, thoughts, calls = _split_parts(
                (candidate.content and candidate.content.parts) or [], self.exclude_reasoning
            )
            if text:
                delta["content"] = text
            if thoughts:
                delta["reasoning"] = thoughts
            if calls:
                start = self.tool_counts.get(index, 0)
                # Gemini sends each call whole: one delta carries id, name and all arguments.
                delta["tool_calls"] = [{"index": start + i, **call} for i, call in enumerate(calls)]
                self.tool_counts[index] = start + len(calls)
            if candidate.finish_reason is not None:
                self.finish[index] = _value(candidate.finish_reason)
            if delta:
                choice = delta_choice(delta, index=index)
                choice["logprobs"] = logprobs_from(candidate.logprobs_result)
                choices.append(choice)
        return choices
