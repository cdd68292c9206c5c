"""Anthropic Messages API through the official SDK (``AsyncAnthropic``, aiohttp transport).

OpenAI → Anthropic: system and developer messages become the top-level ``system``;
tool results become ``tool_result`` blocks at the start of the next user turn;
consecutive same-role turns merge; ``max_tokens`` is required (the gateway's value,
else the model's maximum); temperature, top_p and top_k go through ``extra_body``
because SDK 2.x no longer takes them as arguments. Anthropic → OpenAI: text,
``tool_use`` as ``tool_calls``, thinking as ``reasoning`` (plus ``reasoning_details``
with the signature, which multi-turn tool use with thinking needs back).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from catalog.targets import Target
from gateway.providers.base import Completion, StreamEnd, StreamItem, StreamUsage, UpstreamError, Usage
from gateway.providers.clients import client_for, paced, within
from gateway.providers.params import enforce_supported, reasoning_request, stop_sequences
from gateway.providers.translate import (
    arguments_object,
    assistant_message,
    delta_choice,
    file_data_of,
    image_url_of,
    invalid,
    parse_data_url,
    parts_of,
    retry_after_seconds,
    scrubbed,
    split_call_id,
    text_of,
    tool_call,
)

PROVIDER = "Anthropic"
SUPPORTED = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "reasoning_effort",
        "reasoning",
    }
)
DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192, "max": 16384}
JSON_OBJECT_INSTRUCTION = "Reply with a single valid JSON object and nothing else."
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
REASONING_FORMAT = "anthropic-claude-v1"
_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


# ---------------------------------------------------------------------------- request


def _tool_id(call_id: str) -> str:
    """Anthropic ids must match [a-zA-Z0-9_-]+; any signature suffix is Gemini's, not ours."""
    return _ID_CHARS.sub("_", split_call_id(call_id)[0]) or "toolu"


def _cached(block: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Keep a part's Anthropic-style ``cache_control`` breakpoint (OpenRouter passes them too)."""
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _system_blocks(content: Any) -> list[dict[str, Any]]:
    return [
        _cached({"type": "text", "text": part["text"]}, part)
        for part in parts_of(content)
        if part.get("type") == "text" and (part.get("text") or "").strip()
    ]


def _user_blocks(content: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in parts_of(content):
        kind = part.get("type")
        if kind == "text":
            if (part.get("text") or "").strip():  # Anthropic rejects blank text blocks
                blocks.append(_cached({"type": "text", "text": part["text"]}, part))
        elif kind == "image_url":
            url = image_url_of(part)
            inline = parse_data_url(url)
            if inline:
                source = {"type": "base64", "media_type": inline[0], "data": inline[1]}
            elif url.startswith(("http://", "https://")):
                source = {"type": "url", "url": url}  # Anthropic fetches it
            else:
                raise invalid("image URLs must be http(s) or data: URLs")
            blocks.append(_cached({"type": "image", "source": source}, part))
        elif kind == "file":
            mime, data = file_data_of(part)
            if mime != "application/pdf":
                raise invalid(f"{PROVIDER} accepts PDF files only, not {mime}")
            blocks.append(
                {"type": "document", "source": {"type": "base64", "media_type": mime, "data": data}}
            )
        elif kind == "input_audio":
            raise invalid(f"{PROVIDER} does not accept audio input")
        else:
            raise invalid(f"unsupported content part type {kind!r}")
    return blocks


def _thinking_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Signed thinking handed back by the client (``reasoning_details``), in order."""
    blocks = []
    for detail in message.get("reasoning_details") or []:
        if not isinstance(detail, dict) or detail.get("format", REASONING_FORMAT) != REASONING_FORMAT:
            continue
        if detail.get("type") == "reasoning.text" and detail.get("signature"):
            blocks.append(
                {"type": "thinking", "thinking": detail.get("text") or "", "signature": detail["signature"]}
            )
        elif detail.get("type") == "reasoning.encrypted" and detail.get("data"):
            blocks.append({"type": "redacted_thinking", "data": detail["data"]})
    return blocks


def _assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = _thinking_blocks(message)
    text = text_of(message.get("content"))
    if text.strip():
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": _tool_id(call.get("id") or ""),
                "name": function.get("name") or "",
                "input": arguments_object(function.get("arguments")),
            }
        )
    return blocks


def convert_messages(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages → (system text blocks, Anthropic messages)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)  # consecutive same-role turns merge
        else:
            turns.append({"role": role, "content": list(blocks)})

    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_system_blocks(message.get("content")))
        elif role == "user":
            add("user", _user_blocks(message.get("content")))
        elif role == "assistant":
            add("assistant", _assistant_blocks(message))
        elif role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": _tool_id(message.get("tool_call_id") or ""),
            }
            text = text_of(message.get("content"))
            if text:
                result["content"] = text
            add("user", [result])
        else:
            raise invalid(f"unsupported message role {role!r}")

    out = []
    for turn in turns:
        if turn["role"] == "user":
            # Every tool_use needs its tool_result at the very start of the next user turn.
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
        if turn["content"]:
            out.append(turn)
    # Merging again: dropping an empty turn can leave two same-role turns side by side.
    merged: list[dict[str, Any]] = []
    for turn in out:
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1]["content"].extend(turn["content"])
        else:
            merged.append(turn)
    if not merged or merged[0]["role"] != "user":
        merged.insert(0, {"role": "user", "content": [{"type": "text", "text": "."}]})
    last = merged[-1]
    if last["role"] == "assistant" and last["content"][-1]["type"] == "text":
        # A trailing assistant turn is a prefill, which must not end in whitespace.
        last["content"][-1]["text"] = last["content"][-1]["text"].rstrip()
    return system, merged


def _tools(
    request: dict[str, Any], turns: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    tools = []
    for tool in request.get("tools") or []:
        if tool.get("type", "function") != "function":
            raise invalid(f"unsupported tool type {tool.get('type')!r}", "tools")
        function = tool.get("function") or {}
        entry: dict[str, Any] = {
            "name": function.get("name"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            entry["description"] = function["description"]
        if function.get("strict"):
            entry["strict"] = True
        tools.append(entry)

    choice_value = request.get("tool_choice")
    choice: dict[str, Any] | None = None
    if choice_value in ("auto", "required", "none"):
        choice = {"type": {"auto": "auto", "required": "any", "none": "none"}[choice_value]}
    elif isinstance(choice_value, dict):
        name = (choice_value.get("function") or {}).get("name")
        if not name:
            raise invalid("tool_choice must name a function", "tool_choice")
        choice = {"type": "tool", "name": name}
    if request.get("parallel_tool_calls") is False and tools:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True

    if not tools:
        # Anthropic refuses tool_use/tool_result history without tool definitions:
        # declare the tools the history used, and forbid calling them.
        used = {b["name"] for t in turns for b in t["content"] if b["type"] == "tool_use"}
        has_results = any(b["type"] == "tool_result" for t in turns for b in t["content"])
        if used or has_results:
            names = sorted(used) or ["tool"]
            tools = [{"name": n, "input_schema": {"type": "object", "properties": {}}} for n in names]
            choice = {"type": "none"}
        else:
            choice = None
    return tools, choice


def build_params(request: dict[str, Any], target: Target) -> dict[str, Any]:
    """The keyword arguments of ``messages.create`` for this OpenAI request."""
    enforce_supported(request, supported=SUPPORTED, provider=PROVIDER)
    system, turns = convert_messages(request.get("messages") or [])
    max_tokens = int(request.get("max_tokens") or target.max_output_tokens or DEFAULT_MAX_TOKENS)
    params: dict[str, Any] = {"model": target.upstream_model, "max_tokens": max_tokens, "messages": turns}

    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        params["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    elif response_format.get("type") == "json_object":
        # No native JSON-object mode: an instruction is the closest equivalent.
        system.append({"type": "text", "text": JSON_OBJECT_INSTRUCTION})
    if system:
        params["system"] = system

    tools, choice = _tools(request, turns)
    if tools:
        params["tools"] = tools
    if choice:
        params["tool_choice"] = choice

    stops = [s for s in stop_sequences(request) if s.strip()]
    if stops:
        params["stop_sequences"] = stops

    effort, budget, _exclude = reasoning_request(request)
    if effort != "none":
        budget = budget or THINKING_BUDGETS.get(effort or "")
        if budget:
            budget = min(budget, max_tokens - 1)  # thinking counts toward max_tokens
            if budget >= MIN_THINKING_BUDGET:
                params["thinking"] = {"type": "enabled", "budget_tokens": budget}

    betas = [beta for beta in request.get("anthropic_beta") or () if beta in target.allowed_betas]
    if betas:
        params["extra_headers"] = {"anthropic-beta": ",".join(betas)}

    user = request.get("user")
    if isinstance(user, str) and user and "@" not in user:  # never forward an email address
        params["metadata"] = {"user_id": user[:256]}

    sampling = {k: request[k] for k in ("temperature", "top_p", "top_k") if request.get(k) is not None}
    if "thinking" in params:
        # With thinking on, Anthropic refuses temperature other than 1, any top_k, and
        # top_p below 0.95: such values are dropped like other unsupported parameters.
        conflicting = sorted(
            k
            for k, v in sampling.items()
            if (k == "temperature" and v != 1) or k == "top_k" or (k == "top_p" and v < 0.95)
        )
        if conflicting and (request.get("provider") or {}).get("require_parameters"):
            raise invalid(
                f"{PROVIDER} does not support {', '.join(conflicting)} with reasoning.", conflicting[0]
            )
        for name in conflicting:
            del sampling[name]
    if sampling:
        params["extra_body"] = sampling
    return params


# --------------------------------------------------------------------------- response


def usage_from(raw: Any) -> Usage:
    """Anthropic's input_tokens exclude cache reads and writes; OpenAI's prompt_tokens include them."""
    if raw is None:
        return Usage()
    cache_read = getattr(raw, "cache_read_input_tokens", None) or 0
    cache_write = getattr(raw, "cache_creation_input_tokens", None) or 0
    details = getattr(raw, "output_tokens_details", None)
    return Usage(
        prompt_tokens=(getattr(raw, "input_tokens", None) or 0) + cache_read + cache_write,
        completion_tokens=getattr(raw, "output_tokens", None) or 0,
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=(getattr(details, "thinking_tokens", None) or 0) if details else 0,
    )


def completion_from(message: Any, *, exclude_reasoning: bool = False) -> Completion:
    texts: list[str] = []
    thoughts: list[str] = []
    details: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in message.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            texts.append(block.text)
        elif kind == "thinking":
            thoughts.append(block.thinking)
            details.append(
                {
                    "type": "reasoning.text",
                    "text": block.thinking,
                    "signature": block.signature,
                    "format": REASONING_FORMAT,
                    "index": len(details),
                }
            )
        elif kind == "redacted_thinking":
            details.append(
                {
                    "type": "reasoning.encrypted",
                    "data": block.data,
                    "format": REASONING_FORMAT,
                    "index": len(details),
                }
            )
        elif kind == "tool_use":
            calls.append(tool_call(block.id, block.name, block.input or {}))
    native = message.stop_reason or ""
    reasoning = None if exclude_reasoning else ("".join(thoughts) or None)
    choice = {
        "index": 0,
        "message": assistant_message(
            content="".join(texts) if texts or not calls else None,
            tool_calls=calls,
            reasoning=reasoning,
            reasoning_details=None if exclude_reasoning else details,
        ),
        "finish_reason": FINISH_REASONS.get(native, "stop"),
        "logprobs": None,
    }
    return Completion(
        choices=[choice],
        usage=usage_from(message.usage),
        native_finish_reason=native,
        upstream_id=message.id or "",
    )


# ----------------------------------------------------------------------------- errors

# A provider that says when to come back, whether rate-limited or overloaded.
_RETRY_AFTER_KINDS = frozenset({"rate_limit", "overloaded"})
_KINDS_BY_TYPE = {
    "invalid_request_error": ("invalid_request", 400),
    "request_too_large": ("invalid_request", 400),
    "authentication_error": ("auth", 502),
    "permission_error": ("auth", 502),
    "billing_error": ("auth", 502),
    "not_found_error": ("not_found", 502),
    "rate_limit_error": ("rate_limit", 429),
    "api_error": ("server", 502),
    "timeout_error": ("timeout", 504),
    "overloaded_error": ("overloaded", 503),
}


def _kind_by_status(status: int) -> tuple[str, int]:
    if status in (400, 413, 422):
        return "invalid_request", 400
    if status in (401, 402, 403):
        return "auth", 502
    if status == 404:
        return "not_found", 502
    if status == 429:
        return "rate_limit", 429
    if status in (503, 529):
        return "overloaded", 503
    if status in (408, 504):
        return "timeout", 504
    return "server", 502


def map_error(exc: BaseException, *, streaming: bool = False) -> UpstreamError:
    """An SDK or transport failure → the gateway's classification."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, anthropic.APITimeoutError):
        return UpstreamError(kind="timeout", status=504, message=f"{PROVIDER} timed out.")
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        error_type = error.get("type") or getattr(exc, "type", None) or ""
        kind, status = _KINDS_BY_TYPE.get(error_type) or _kind_by_status(exc.status_code)
        detail = error.get("message") or exc.message
        return UpstreamError(
            kind=kind,
            status=status,
            message=f"{PROVIDER}: {detail}",
            retry_after=retry_after_seconds(exc.response.headers) if kind in _RETRY_AFTER_KINDS else None,
            native_status=exc.status_code,
            extra={"type": error_type} if error_type else {},
        )
    if isinstance(exc, anthropic.APIConnectionError):
        if streaming:
            return UpstreamError(kind="server", status=502, message=f"{PROVIDER} closed the stream early.")
        return UpstreamError(kind="connect", status=502, message=f"Could not reach {PROVIDER}.")
    if isinstance(exc, (anthropic.APIResponseValidationError, ValueError, KeyError, TypeError)):
        return UpstreamError(
            kind="bad_response", status=502, message=f"{PROVIDER} sent a response that could not be read."
        )
    if isinstance(exc, (httpx2.TimeoutException, TimeoutError)):
        return UpstreamError(kind="timeout", status=504, message=f"{PROVIDER} timed out.")
    if isinstance(exc, httpx2.TransportError):
        kind = "server" if streaming else "connect"
        return UpstreamError(kind=kind, status=502, message=f"Connection to {PROVIDER} failed.")
    raise exc


# ---------------------------------------------------------------------------- adapter


def _make_client(base_url: str, api_key: str) -> tuple[anthropic.AsyncAnthropic, Any]:
    client = anthropic.AsyncAnthropic(
        api_key=api_key or "missing",
        base_url=base_url or None,
        max_retries=0,  # the gateway decides retries and fallbacks
        http_client=anthropic.DefaultAioHttpClient(),
    )
    return client, client.close


# What count_tokens takes of a Messages request (it refuses max_tokens and sampling parameters).
_COUNTED = ("model", "messages", "system", "tools", "tool_choice", "thinking", "extra_headers")


class AnthropicAdapter:
    def _client(self, target: Target) -> anthropic.AsyncAnthropic:
        return client_for(
            ("anthropic", target.base_url, target.api_key),
            lambda: _make_client(target.base_url, target.api_key),
        )

    async def complete(self, request: dict[str, Any], target: Target) -> Completion:
        params = build_params(request, target)
        timeout = httpx2.Timeout(target.first_byte_timeout, connect=target.connect_timeout)
        deadline = target.connect_timeout + target.first_byte_timeout
        try:
            message = await within(
                self._client(target).messages.create(**params, timeout=timeout), deadline, "response"
            )
            return completion_from(message, exclude_reasoning=reasoning_request(request)[2])
        except Exception as exc:
            raise scrubbed(map_error(exc), target.api_key) from exc

    async def count_tokens(self, request: dict[str, Any], target: Target) -> int:
        """Anthropic's own count of the prompt (``/v1/messages/count_tokens``) or UpstreamError."""
        params = build_params(request, target)
        counted = {k: params[k] for k in _COUNTED if k in params}
        timeout = httpx2.Timeout(target.first_byte_timeout, connect=target.connect_timeout)
        try:
            result = await within(
                self._client(target).messages.count_tokens(**counted, timeout=timeout),
                target.connect_timeout + target.first_byte_timeout,
                "response",
            )
        except Exception as exc:
            raise scrubbed(map_error(exc), target.api_key) from exc
        return int(result.input_tokens)

    async def stream(self, request: dict[str, Any], target: Target) -> AsyncIterator[StreamItem]:
        params = build_params(request, target)
        exclude_reasoning = reasoning_request(request)[2]
        # Socket-level backstop; the exact first-byte and idle limits are enforced by ``paced``.
        timeout = httpx2.Timeout(
            max(target.first_byte_timeout, target.idle_timeout), connect=target.connect_timeout
        )
        first = target.connect_timeout + target.first_byte_timeout
        try:
            upstream = await within(
                self._client(target).messages.create(**params, stream=True, timeout=timeout),
                first,
                "response",
            )
        except Exception as exc:
            raise scrubbed(map_error(exc), target.api_key) from exc
        state = _StreamState(exclude_reasoning=exclude_reasoning)
        try:
            async for event in paced(upstream, first=target.first_byte_timeout, idle=target.idle_timeout):
                deltas = state.feed(event)
                if getattr(event, "type", "") == "message_start":
                    # The prompt is counted, and billed, from here: first, so a client that
                    # hangs up at the first chunk still finds it.
                    yield StreamUsage(state.usage())
                if deltas:
                    yield deltas
        except Exception as exc:
            error = scrubbed(map_error(exc, streaming=True), target.api_key)
            if state.started:
                error.extra.setdefault("usage", state.usage())
            raise error from exc
        finally:
            await upstream.close()
        if not state.stopped:
            error = UpstreamError(kind="server", status=502, message=f"{PROVIDER} closed the stream early.")
            error.extra["usage"] = state.usage()
            raise error
        yield [delta_choice({}, finish_reason=state.finish_reason())]
        yield StreamEnd(
            usage=state.usage(),
            finish_reason=state.finish_reason(),
            native_finish_reason=state.stop_reason,
            upstream_id=state.message_id,
        )


class _StreamState:
    """Turns Anthropic's named events into OpenAI deltas, keeping usage and tool indexes."""

    def __init__(self, *, exclude_reasoning: bool) -> None:
        self.exclude_reasoning = exclude_reasoning
        self.started = False
        self.stopped = False
        self.message_id = ""
        self.stop_reason = ""
        self.raw_usage: dict[str, Any] = {}
        # Anthropic's block index counts text and thinking blocks too; OpenAI's
        # tool-call index counts tool calls only.
        self.tool_index_by_block: dict[int, int] = {}
        self.tools_with_arguments: set[int] = set()
        self.thinking_blocks: dict[int, int] = {}

    def usage(self) -> Usage:
        details = self.raw_usage.get("output_tokens_details")
        return usage_from(
            _Obj(
                input_tokens=self.raw_usage.get("input_tokens"),
                output_tokens=self.raw_usage.get("output_tokens"),
                cache_read_input_tokens=self.raw_usage.get("cache_read_input_tokens"),
                cache_creation_input_tokens=self.raw_usage.get("cache_creation_input_tokens"),
                output_tokens_details=details,
            )
        )

    def _merge_usage(self, raw: Any) -> None:
        if raw is None:
            return
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "output_tokens_details",
        ):
            value = getattr(raw, name, None)
            if value is not None:  # message_delta usage is cumulative: latest wins
                self.raw_usage[name] = value

    def finish_reason(self) -> str:
        return FINISH_REASONS.get(self.stop_reason, "stop")

    def feed(self, event: Any) -> list[dict[str, Any]] | None:
        kind = getattr(event, "type", "")
        if kind == "message_start":
            self.started = True
            self.message_id = event.message.id or ""
            self._merge_usage(event.message.usage)
            return [delta_choice({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                index = self.tool_index_by_block[event.index] = len(self.tool_index_by_block)
                call = {"index": index, **tool_call(block.id, block.name, "")}
                return [delta_choice({"tool_calls": [call]})]
            if block.type == "thinking":
                self.thinking_blocks[event.index] = len(self.thinking_blocks)
            if block.type == "redacted_thinking":
                # Whole in its start event; counted with the thinking blocks, as completion_from does.
                index = self.thinking_blocks[event.index] = len(self.thinking_blocks)
                if self.exclude_reasoning or not block.data:
                    return None
                detail = {
                    "type": "reasoning.encrypted",
                    "data": block.data,
                    "format": REASONING_FORMAT,
                    "index": index,
                }
                return [delta_choice({"reasoning_details": [detail]})]
            if block.type == "text" and block.text:
                return [delta_choice({"content": block.text})]
            return None
        if kind == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                return [delta_choice({"content": delta.text})] if delta.text else None
            if delta.type == "input_json_delta":
                index = self.tool_index_by_block.get(event.index)
                if index is None or not delta.partial_json:
                    return None
                self.tools_with_arguments.add(index)
                return [
                    delta_choice(
                        {"tool_calls": [{"index": index, "function": {"arguments": delta.partial_json}}]}
                    )
                ]
            if self.exclude_reasoning:
                return None
            if delta.type == "thinking_delta":
                return [delta_choice({"reasoning": delta.thinking})] if delta.thinking else None
            if delta.type == "signature_delta":
                detail = {
                    "type": "reasoning.text",
                    "signature": delta.signature,
                    "format": REASONING_FORMAT,
                    "index": self.thinking_blocks.get(event.index, 0),
                }
                return [delta_choice({"reasoning_details": [detail]})]
            return None
        if kind == "content_block_stop":
            index = self.tool_index_by_block.get(event.index)
            if index is not None and index not in self.tools_with_arguments:
                # A call without input streams no JSON; OpenAI clients expect "{}" to parse.
                return [delta_choice({"tool_calls": [{"index": index, "function": {"arguments": "{}"}}]})]
            return None
        if kind == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self._merge_usage(event.usage)
            return None
        if kind == "message_stop":
            self.stopped = True
        return None


class _Obj:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)
