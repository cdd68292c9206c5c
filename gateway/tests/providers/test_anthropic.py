"""The Anthropic adapter through the real SDK against the fake Messages API."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from billing.pricing import usage_cost_nanos
from catalog.targets import Target
from gateway.providers.anthropic import AnthropicAdapter
from gateway.providers.base import StreamEnd, StreamUsage, UpstreamError, Usage
from gateway.tests.providers.conftest import make_target
from tests.fakes.server import FakeUpstream

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "anthropic/test-model", "messages": list(messages), "max_tokens": 256, **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


async def collect(adapter: AnthropicAdapter, request: dict[str, Any], target: Target):
    deltas: list[dict[str, Any]] = []
    end = None
    async for item in adapter.stream(request, target):
        if isinstance(item, StreamEnd):
            end = item
        elif not isinstance(item, StreamUsage):  # the prompt's count, before the deltas
            deltas.extend(item)
    return deltas, end


def streamed_text(deltas: list[dict[str, Any]], field: str = "content") -> str:
    return "".join(d["delta"].get(field) or "" for d in deltas)


def streamed_tool_calls(deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls: dict[int, dict[str, Any]] = {}
    for d in deltas:
        for part in d["delta"].get("tool_calls") or []:
            call = calls.setdefault(part["index"], {"id": None, "name": None, "arguments": ""})
            call["id"] = part.get("id") or call["id"]
            call["name"] = (part.get("function") or {}).get("name") or call["name"]
            call["arguments"] += (part.get("function") or {}).get("arguments") or ""
    return [calls[i] for i in sorted(calls)]


async def test_plain_chat_returns_the_answer_and_sends_a_valid_messages_request(
    anthropic_upstream, anthropic_target
):
    result = await AnthropicAdapter().complete(chat(user("Hello there")), anthropic_target)

    assert result.choices[0]["message"]["content"] == "echo: Hello there"
    assert result.choices[0]["message"]["role"] == "assistant"
    assert result.choices[0]["finish_reason"] == "stop"
    assert result.native_finish_reason == "end_turn"
    assert result.usage == Usage(prompt_tokens=10, completion_tokens=5)
    assert result.upstream_id == "msg_fake"
    sent = anthropic_upstream.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["authorization"] == "Bearer sk-test-upstream"
    assert sent.json == {
        "model": "claude-test",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}],
    }


async def test_streamed_chat_yields_role_then_text_then_finish_and_usage(
    anthropic_upstream, anthropic_target
):
    deltas, end = await collect(AnthropicAdapter(), chat(user("Stream me")), anthropic_target)

    assert deltas[0]["delta"] == {"role": "assistant", "content": ""}
    assert streamed_text(deltas) == "echo: Stream me"
    assert deltas[-1]["finish_reason"] == "stop"
    assert end.finish_reason == "stop" and end.native_finish_reason == "end_turn"
    assert end.usage == Usage(prompt_tokens=10, completion_tokens=5)
    assert anthropic_upstream.requests[0].json["stream"] is True


async def test_multi_turn_moves_system_and_developer_to_top_level_and_merges_same_role_turns(
    anthropic_upstream, anthropic_target
):
    request = chat(
        {"role": "system", "content": "Be terse."},
        user("First question"),
        {"role": "assistant", "content": "First answer"},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        user("Second"),
        user([{"type": "text", "text": "and third"}, {"type": "text", "text": ""}]),
    )
    result = await AnthropicAdapter().complete(request, anthropic_target)

    sent = anthropic_upstream.requests[0].json
    assert sent["system"] == [
        {"type": "text", "text": "Be terse."},
        {"type": "text", "text": "Answer in French."},
    ]
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "First question"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "First answer"}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Second"}, {"type": "text", "text": "and third"}],
        },
    ]
    assert result.choices[0]["message"]["content"] == "echo: and third"


async def test_empty_messages_are_dropped_and_the_conversation_still_starts_with_a_user_turn(
    anthropic_upstream, anthropic_target
):
    request = chat(
        {"role": "assistant", "content": "I start"},
        user(""),
        {"role": "assistant", "content": "Prefill with space   "},
    )
    await AnthropicAdapter().complete(request, anthropic_target)

    assert anthropic_upstream.requests[0].json["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "."}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "I start"}, {"type": "text", "text": "Prefill with space"}],
        },
    ]


async def test_images_go_as_base64_blocks_or_urls(anthropic_upstream, anthropic_target):
    request = chat(
        user(
            [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
            ]
        )
    )
    await AnthropicAdapter().complete(request, anthropic_target)

    content = anthropic_upstream.requests[0].json["messages"][0]["content"]
    assert content[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
    }
    assert content[2] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}


async def test_audio_input_is_refused_before_calling_upstream(anthropic_upstream, anthropic_target):
    request = chat(user([{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]))
    with pytest.raises(UpstreamError) as caught:
        await AnthropicAdapter().complete(request, anthropic_target)
    assert caught.value.status == 400 and "audio" in caught.value.message
    assert anthropic_upstream.requests == []


async def test_tool_call_round_trip(anthropic_upstream, anthropic_target):
    adapter = AnthropicAdapter()
    anthropic_upstream.push({"kind": "tool", "calls": 2, "text": "Checking."})
    request = chat(
        user("Weather in Paris?"), tools=[WEATHER_TOOL], tool_choice="auto", parallel_tool_calls=True
    )
    first = await adapter.complete(request, anthropic_target)

    message = first.choices[0]["message"]
    assert first.choices[0]["finish_reason"] == "tool_calls"
    assert message["content"] == "Checking."
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["get_weather", "get_weather"]
    assert json.loads(message["tool_calls"][1]["function"]["arguments"]) == {"city": "Paris", "n": 1}
    sent = anthropic_upstream.requests[0].json
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
            "description": "Weather for a city",
        }
    ]
    assert sent["tool_choice"] == {"type": "auto"}

    follow_up = chat(
        user("Weather in Paris?"),
        message,
        {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "sunny"},
        {
            "role": "tool",
            "tool_call_id": message["tool_calls"][1]["id"],
            "content": [{"type": "text", "text": "rain"}],
        },
        user("Thanks, summarise."),
        tools=[WEATHER_TOOL],
    )
    second = await adapter.complete(follow_up, anthropic_target)

    turns = anthropic_upstream.requests[1].json["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_0", "name": "get_weather", "input": {"city": "Paris", "n": 0}},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "n": 1}},
    ]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_0", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "rain"},
        {"type": "text", "text": "Thanks, summarise."},
    ]
    assert second.choices[0]["message"]["content"] == "echo: Thanks, summarise."


async def test_streamed_tool_calls_get_their_own_index_and_argument_fragments(
    anthropic_upstream, anthropic_target
):
    anthropic_upstream.push({"kind": "tool", "calls": 2, "text": "Let me check."})
    request = chat(user("Weather?"), tools=[WEATHER_TOOL])
    deltas, end = await collect(AnthropicAdapter(), request, anthropic_target)

    assert streamed_text(deltas) == "Let me check."
    calls = streamed_tool_calls(deltas)
    # Anthropic numbers the blocks 1 and 2 (the text is 0); OpenAI's tool index starts at 0.
    assert [c["id"] for c in calls] == ["toolu_0", "toolu_1"]
    assert [json.loads(c["arguments"]) for c in calls] == [
        {"city": "Paris", "n": 0},
        {"city": "Paris", "n": 1},
    ]
    first_call_delta = next(d for d in deltas if d["delta"].get("tool_calls"))["delta"]["tool_calls"][0]
    assert first_call_delta == {
        "index": 0,
        "id": "toolu_0",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert (
        len(
            [
                d
                for d in deltas
                if (d["delta"].get("tool_calls") or [{}])[0].get("function", {}).get("arguments")
            ]
        )
        > 2
    )
    assert end.finish_reason == "tool_calls" and end.native_finish_reason == "tool_use"


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
async def test_tool_choice_modes_map_to_anthropic(
    anthropic_upstream, anthropic_target, choice, parallel, expected
):
    extra: dict[str, Any] = {"tools": [WEATHER_TOOL]}
    if choice is not None:
        extra["tool_choice"] = choice
    if parallel is not None:
        extra["parallel_tool_calls"] = parallel
    await AnthropicAdapter().complete(chat(user("hi"), **extra), anthropic_target)
    assert anthropic_upstream.requests[0].json["tool_choice"] == expected


async def test_tool_history_without_tools_declares_them_and_forbids_new_calls(
    anthropic_upstream, anthropic_target
):
    request = chat(
        user("Weather?"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    )
    await AnthropicAdapter().complete(request, anthropic_target)
    sent = anthropic_upstream.requests[0].json
    assert sent["tools"] == [{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}]
    assert sent["tool_choice"] == {"type": "none"}


async def test_gemini_signed_tool_call_ids_are_stripped_to_what_anthropic_accepts(
    anthropic_upstream, anthropic_target
):
    call_id = "call_0123456789abcdef01234567__ts_c2lnbmF0dXJl"
    request = chat(
        user("Weather?"),
        {
            "role": "assistant",
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "ok"},
        tools=[WEATHER_TOOL],
    )
    await AnthropicAdapter().complete(request, anthropic_target)
    turns = anthropic_upstream.requests[0].json["messages"]
    assert turns[1]["content"][0]["id"] == "call_0123456789abcdef01234567"
    assert turns[2]["content"][0]["tool_use_id"] == "call_0123456789abcdef01234567"


async def test_json_schema_uses_structured_output_and_json_object_an_instruction(
    anthropic_upstream, anthropic_target
):
    adapter = AnthropicAdapter()
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    anthropic_upstream.push("json", "json")
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema, "strict": True}}
    structured = await adapter.complete(chat(user("Answer?"), response_format=fmt), anthropic_target)
    loose = await adapter.complete(
        chat(user("Answer?"), response_format={"type": "json_object"}), anthropic_target
    )

    assert json.loads(structured.choices[0]["message"]["content"]) == {"answer": 42}
    assert json.loads(loose.choices[0]["message"]["content"]) == {"answer": 42}
    first, second = (r.json for r in anthropic_upstream.requests)
    assert first["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "JSON object" in second["system"][-1]["text"]
    assert "output_config" not in second


@pytest.mark.parametrize(
    ("behaviour", "finish", "native"),
    [
        ("normal", "stop", "end_turn"),
        ("stop_sequence", "stop", "stop_sequence"),
        ("pause_turn", "stop", "pause_turn"),
        ("length", "length", "max_tokens"),
        ("context_exceeded", "length", "model_context_window_exceeded"),
        ("tool", "tool_calls", "tool_use"),
        ("refusal", "content_filter", "refusal"),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_every_stop_reason_maps_to_an_openai_finish_reason(
    anthropic_upstream, anthropic_target, behaviour, finish, native, streaming
):
    anthropic_upstream.push(behaviour)
    request = chat(user("go"), tools=[WEATHER_TOOL])
    if streaming:
        deltas, end = await collect(AnthropicAdapter(), request, anthropic_target)
        assert (deltas[-1]["finish_reason"], end.finish_reason, end.native_finish_reason) == (
            finish,
            finish,
            native,
        )
    else:
        result = await AnthropicAdapter().complete(request, anthropic_target)
        assert (result.choices[0]["finish_reason"], result.native_finish_reason) == (finish, native)


PRICES = SimpleNamespace(
    input_price=Decimal("3"),
    output_price=Decimal("15"),
    cache_read_price=Decimal("0.30"),
    cache_write_price=Decimal("3.75"),
    request_price=Decimal("0"),
)
# input 100 + cache writes 20 + cache reads 30 → 150 prompt tokens; 50 output of which 20 thinking.
EXPECTED_USAGE = Usage(
    prompt_tokens=150, completion_tokens=50, cached_tokens=30, cache_write_tokens=20, reasoning_tokens=20
)
# 100×$3/M + 30×$0.30/M + 20×$3.75/M + 50×$15/M = 300_000 + 9_000 + 75_000 + 750_000 nano-USD.
EXPECTED_COST_NANOS = 1_134_000


async def test_usage_with_cache_and_thinking_tokens_is_normalised_and_priced(
    anthropic_upstream, anthropic_target
):
    anthropic_upstream.push("usage")
    result = await AnthropicAdapter().complete(chat(user("think"), reasoning_effort="low"), anthropic_target)

    assert result.usage == EXPECTED_USAGE
    assert usage_cost_nanos(result.usage, PRICES) == EXPECTED_COST_NANOS
    message = result.choices[0]["message"]
    assert message["content"] == "Done thinking."
    assert message["reasoning"] == "Let me think."
    assert message["reasoning_details"][0]["signature"] == "sig-1"


async def test_streamed_usage_takes_the_cumulative_message_delta(anthropic_upstream, anthropic_target):
    anthropic_upstream.push("usage")
    deltas, end = await collect(AnthropicAdapter(), chat(user("think")), anthropic_target)

    assert end.usage == EXPECTED_USAGE
    assert usage_cost_nanos(end.usage, PRICES) == EXPECTED_COST_NANOS
    assert streamed_text(deltas, "reasoning") == "Let me think."
    assert streamed_text(deltas) == "Done thinking."


async def test_excluded_reasoning_is_not_returned(anthropic_upstream, anthropic_target):
    anthropic_upstream.push("usage", "usage")
    request = chat(user("think"), reasoning={"effort": "high", "exclude": True}) | {"max_tokens": 8000}
    result = await AnthropicAdapter().complete(request, anthropic_target)
    deltas, _ = await collect(AnthropicAdapter(), request, anthropic_target)

    assert "reasoning" not in result.choices[0]["message"]
    assert streamed_text(deltas, "reasoning") == ""
    assert anthropic_upstream.requests[0].json["thinking"] == {"type": "enabled", "budget_tokens": 4096}


async def test_sampling_parameters_travel_in_the_body_and_stop_drops_blank_entries(
    anthropic_upstream, anthropic_target
):
    request = chat(
        user("hi"), temperature=0.3, top_p=0.9, top_k=5, stop=["END", "  "], user="user-42", seed=7
    )
    await AnthropicAdapter().complete(request, anthropic_target)

    sent = anthropic_upstream.requests[0].json
    assert (sent["temperature"], sent["top_p"], sent["top_k"]) == (0.3, 0.9, 5)
    assert sent["stop_sequences"] == ["END"]
    assert sent["metadata"] == {"user_id": "user-42"}
    assert "seed" not in sent


async def test_max_tokens_defaults_to_the_models_maximum(anthropic_upstream, anthropic_target):
    request = chat(user("hi"))
    del request["max_tokens"]
    await AnthropicAdapter().complete(request, replace(anthropic_target, max_output_tokens=3000))
    assert anthropic_upstream.requests[0].json["max_tokens"] == 3000


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "expected"),
    [
        ({"reasoning_effort": "medium"}, 8000, {"type": "enabled", "budget_tokens": 2048}),
        ({"reasoning_effort": "high"}, 3000, {"type": "enabled", "budget_tokens": 2999}),
        ({"reasoning": {"max_tokens": 1500}}, 8000, {"type": "enabled", "budget_tokens": 1500}),
        ({"reasoning_effort": "low"}, 900, None),
        ({"reasoning_effort": "none"}, 8000, None),
    ],
)
async def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens(
    anthropic_upstream, anthropic_target, reasoning, max_tokens, expected
):
    await AnthropicAdapter().complete(
        chat(user("hi"), **reasoning) | {"max_tokens": max_tokens}, anthropic_target
    )
    assert anthropic_upstream.requests[0].json.get("thinking") == expected


async def test_required_parameters_the_provider_lacks_are_refused_by_name(
    anthropic_upstream, anthropic_target
):
    request = chat(user("hi"), seed=7, logprobs=True, provider={"require_parameters": True})
    with pytest.raises(UpstreamError) as caught:
        await AnthropicAdapter().complete(request, anthropic_target)
    assert caught.value.status == 400 and caught.value.kind == "invalid_request"
    assert "logprobs" in caught.value.message and "seed" in caught.value.message
    assert caught.value.extra["param"] == "logprobs"
    assert anthropic_upstream.requests == []


async def test_more_than_one_choice_is_refused(anthropic_upstream, anthropic_target):
    with pytest.raises(UpstreamError) as caught:
        await AnthropicAdapter().complete(chat(user("hi"), n=2), anthropic_target)
    assert caught.value.status == 400 and caught.value.extra["param"] == "n"
    assert anthropic_upstream.requests == []


@pytest.mark.parametrize(
    ("behaviour", "kind", "status"),
    [
        ("rate_limit", "rate_limit", 429),
        ("overloaded", "overloaded", 503),
        ({"kind": "status", "status": 503, "type": "api_error"}, "server", 502),
        ("server_error", "server", 502),
        ("invalid", "invalid_request", 400),
        ("unauthorized", "auth", 502),
        ("not_found", "not_found", 502),
        ({"kind": "status", "status": 504, "type": "timeout_error"}, "timeout", 504),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_provider_errors_map_to_gateway_statuses(
    anthropic_upstream, anthropic_target, behaviour, kind, status, streaming
):
    anthropic_upstream.push(behaviour)
    with pytest.raises(UpstreamError) as caught:
        if streaming:
            await collect(AnthropicAdapter(), chat(user("hi")), anthropic_target)
        else:
            await AnthropicAdapter().complete(chat(user("hi")), anthropic_target)
    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert caught.value.retry_after == {"rate_limit": 7.0, "overloaded": 2.0}.get(kind)
    assert caught.value.retryable == (kind in {"rate_limit", "overloaded", "server", "timeout", "connect"})
    assert "sk-test-upstream" not in caught.value.message
    assert len(anthropic_upstream.requests) == 1  # the SDK never retries on its own


async def test_slow_first_byte_is_a_timeout(anthropic_upstream, anthropic_target):
    anthropic_upstream.push({"kind": "slow", "delay": 1.5}, {"kind": "slow", "delay": 1.5})
    target = replace(anthropic_target, first_byte_timeout=0.5, connect_timeout=0.5)
    with pytest.raises(UpstreamError) as caught:
        await AnthropicAdapter().complete(chat(user("hi")), target)
    assert (caught.value.kind, caught.value.status) == ("timeout", 504)
    with pytest.raises(UpstreamError) as caught:
        await collect(AnthropicAdapter(), chat(user("hi")), target)
    assert (caught.value.kind, caught.value.status) == ("timeout", 504)


async def test_a_stalled_stream_times_out_with_the_usage_seen_so_far(anthropic_upstream, anthropic_target):
    anthropic_upstream.push({"kind": "stall", "seconds": 1.5})
    deltas: list[Any] = []
    with pytest.raises(UpstreamError) as caught:
        async for item in AnthropicAdapter().stream(
            chat(user("hi")), replace(anthropic_target, idle_timeout=0.5)
        ):
            deltas.append(item)
    assert (caught.value.kind, caught.value.status) == ("timeout", 504)
    assert deltas[0] == StreamUsage(Usage(prompt_tokens=10, completion_tokens=1))  # message_start's
    assert deltas[1][0]["delta"]["role"] == "assistant"
    assert caught.value.extra["usage"].prompt_tokens == 10


@pytest.mark.parametrize(
    ("behaviour", "kind", "status"),
    [("drop", "server", 502), ("error_event", "overloaded", 503), ("malformed", "bad_response", 502)],
)
async def test_mid_stream_failures_raise_after_the_first_deltas(
    anthropic_upstream, anthropic_target, behaviour, kind, status
):
    anthropic_upstream.push(behaviour)
    received: list[Any] = []
    with pytest.raises(UpstreamError) as caught:
        async for item in AnthropicAdapter().stream(chat(user("hi")), anthropic_target):
            received.append(item)
    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert received  # the role delta went out before the failure


async def test_malformed_json_answer_is_a_bad_response(anthropic_upstream, anthropic_target):
    anthropic_upstream.push("malformed")
    with pytest.raises(UpstreamError) as caught:
        await AnthropicAdapter().complete(chat(user("hi")), anthropic_target)
    assert (caught.value.kind, caught.value.status) == ("bad_response", 502)


async def test_unreachable_provider_is_a_connect_error(anthropic_upstream):
    closed_port = make_target("http://127.0.0.1:9", "anthropic")
    with pytest.raises(UpstreamError) as caught:
        await AnthropicAdapter().complete(chat(user("hi")), closed_port)
    assert (caught.value.kind, caught.value.status, caught.value.retryable) == ("connect", 502, True)


def test_fake_accepts_the_documented_x_api_key_header_too(anthropic_upstream: FakeUpstream):
    import urllib.request

    body = json.dumps(
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "yo"}]}
    ).encode()
    request = urllib.request.Request(
        f"{anthropic_upstream.url}/v1/messages",
        data=body,
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["content"][0]["text"] == "echo: yo"


async def test_cache_control_breakpoints_are_kept_for_prompt_caching(anthropic_upstream, anthropic_target):
    breakpoint_ = {"type": "ephemeral"}
    request = chat(
        {
            "role": "system",
            "content": [
                {"type": "text", "text": "A long, stable preamble.", "cache_control": breakpoint_},
                {"type": "text", "text": "Today's note."},
            ],
        },
        user(
            [
                {"type": "text", "text": "Big document", "cache_control": breakpoint_},
                {"type": "text", "text": "Q?"},
            ]
        ),
    )
    await AnthropicAdapter().complete(request, anthropic_target)
    sent = anthropic_upstream.requests[0].json
    assert sent["system"] == [
        {"type": "text", "text": "A long, stable preamble.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Today's note."},
    ]
    assert sent["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in sent["messages"][0]["content"][1]


async def test_signed_thinking_handed_back_precedes_the_tool_call_it_led_to(
    anthropic_upstream, anthropic_target
):
    anthropic_upstream.push({"kind": "tool"})
    first = await AnthropicAdapter().complete(chat(user("Weather?"), tools=[WEATHER_TOOL]), anthropic_target)
    message = first.choices[0]["message"] | {
        "reasoning_details": [
            {
                "type": "reasoning.text",
                "text": "I should call it.",
                "signature": "sig-9",
                "format": "anthropic-claude-v1",
            }
        ]
    }
    follow_up = chat(
        user("Weather?"),
        message,
        {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "sunny"},
        tools=[WEATHER_TOOL],
    )
    await AnthropicAdapter().complete(follow_up, anthropic_target)
    assistant = anthropic_upstream.requests[1].json["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": "I should call it.", "signature": "sig-9"}
    assert assistant[1]["type"] == "tool_use"


async def test_a_streamed_call_without_input_still_gets_parseable_arguments(
    anthropic_upstream, anthropic_target
):
    anthropic_upstream.push({"kind": "tool", "input": {}})
    deltas, end = await collect(
        AnthropicAdapter(), chat(user("Ping?"), tools=[WEATHER_TOOL]), anthropic_target
    )
    calls = streamed_tool_calls(deltas)
    assert [json.loads(c["arguments"]) for c in calls] == [{}]
    assert end.finish_reason == "tool_calls"


async def test_closing_the_stream_early_closes_the_upstream_connection(anthropic_upstream, anthropic_target):
    import asyncio

    anthropic_upstream.push({"kind": "stall", "seconds": 0.5})
    stream = AnthropicAdapter().stream(chat(user("hi")), anthropic_target)
    usage = await anext(stream)
    first = await anext(stream)
    await stream.aclose()  # the client went away

    assert isinstance(usage, StreamUsage) and first[0]["delta"]["role"] == "assistant"
    for _ in range(40):
        if anthropic_upstream.disconnects:
            break
        await asyncio.sleep(0.05)
    assert anthropic_upstream.disconnects == 1


async def test_streamed_tool_call_round_trip(anthropic_upstream, anthropic_target):
    anthropic_upstream.push({"kind": "tool", "calls": 2})
    deltas, _ = await collect(
        AnthropicAdapter(), chat(user("Weather?"), tools=[WEATHER_TOOL], stream=True), anthropic_target
    )
    calls = streamed_tool_calls(deltas)
    assistant = {
        "role": "assistant",
        "content": streamed_text(deltas) or None,
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls
        ],
    }
    results = [
        {"role": "tool", "tool_call_id": c["id"], "content": f"result {i}"} for i, c in enumerate(calls)
    ]
    follow_up = chat(user("Weather?"), assistant, *results, tools=[WEATHER_TOOL], stream=True)
    deltas, end = await collect(AnthropicAdapter(), follow_up, anthropic_target)

    turns = anthropic_upstream.requests[1].json["messages"]
    assert [b["id"] for b in turns[1]["content"]] == ["toolu_0", "toolu_1"]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_0", "content": "result 0"},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "result 1"},
    ]
    assert end.finish_reason == "stop"


async def test_sampling_that_thinking_forbids_is_dropped_or_refused_when_required(
    anthropic_upstream, anthropic_target
):
    request = chat(user("hi"), reasoning_effort="medium", temperature=0.2, top_p=0.99, max_tokens=8000)
    await AnthropicAdapter().complete(request, anthropic_target)
    sent = anthropic_upstream.requests[0].json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "temperature" not in sent and sent["top_p"] == 0.99

    with pytest.raises(UpstreamError) as caught:
        await AnthropicAdapter().complete(
            request | {"provider": {"require_parameters": True}}, anthropic_target
        )
    assert caught.value.status == 400 and "temperature" in caught.value.message
    assert len(anthropic_upstream.requests) == 1


async def test_a_provider_message_quoting_the_key_is_scrubbed(anthropic_upstream, anthropic_target):
    message = "invalid x-api-key: sk-test-upstream (also sk-ant-api03-abcdefgh)"
    anthropic_upstream.push(
        {"kind": "status", "status": 401, "type": "authentication_error", "message": message}
    )
    with pytest.raises(UpstreamError) as caught:
        await AnthropicAdapter().complete(chat(user("hi")), anthropic_target)
    assert "sk-test-upstream" not in str(caught.value) and "abcdefgh" not in caught.value.message
    assert "invalid x-api-key" in caught.value.message


async def test_pdf_files_become_document_blocks(anthropic_upstream, anthropic_target):
    pdf = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}
    await AnthropicAdapter().complete(
        chat(user([{"type": "text", "text": "Summarise"}, pdf])), anthropic_target
    )
    content = anthropic_upstream.requests[0].json["messages"][0]["content"]
    assert content[1] == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }
