"""The Gemini adapter through the real google-genai SDK against the fake Gemini API."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from billing.pricing import usage_cost_nanos
from catalog.targets import Target
from gateway.providers.base import StreamEnd, StreamUsage, UpstreamError, Usage
from gateway.providers.google import GoogleAdapter
from gateway.providers.translate import split_call_id
from gateway.tests.providers.conftest import make_target
from tests.fakes.gemini_server import normalise
from tests.fakes.server import FakeUpstream

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city_name": {"type": "string"}},
            "required": ["city_name"],
        },
    },
}


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "google/test-model", "messages": list(messages), "max_tokens": 256, **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def sent(fake: FakeUpstream, i: int = 0) -> dict[str, Any]:
    return normalise(fake.requests[i].json)


async def collect(request: dict[str, Any], target: Target):
    deltas: list[dict[str, Any]] = []
    end = None
    async for item in GoogleAdapter().stream(request, target):
        if isinstance(item, StreamEnd):
            end = item
        elif not isinstance(item, StreamUsage):  # the prompt's count, once Gemini reports it
            deltas.extend(item)
    return deltas, end


def streamed_text(deltas: list[dict[str, Any]], field: str = "content", index: int = 0) -> str:
    return "".join(d["delta"].get(field) or "" for d in deltas if d["index"] == index)


async def test_plain_chat_returns_the_answer_and_sends_a_valid_request(gemini_upstream, gemini_target):
    result = await GoogleAdapter().complete(chat(user("Hello there")), gemini_target)

    assert result.choices[0]["message"]["content"] == "echo: Hello there"
    assert result.choices[0]["finish_reason"] == "stop"
    assert result.native_finish_reason == "STOP"
    assert result.usage == Usage(prompt_tokens=10, completion_tokens=5)
    assert result.upstream_id == "resp_fake"
    request = gemini_upstream.requests[0]
    assert request.path == "/v1beta/models/gemini-test:generateContent"
    assert request.headers["x-goog-api-key"] == "sk-test-upstream"
    body = sent(gemini_upstream)
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hello there"}]}]
    assert body["generationConfig"] == {"maxOutputTokens": 256}


async def test_streamed_chat_yields_role_then_text_then_finish_and_usage(gemini_upstream, gemini_target):
    deltas, end = await collect(chat(user("Stream me please")), gemini_target)

    assert deltas[0]["delta"]["role"] == "assistant"
    assert streamed_text(deltas) == "echo: Stream me please"
    assert deltas[-1]["finish_reason"] == "stop"
    assert (end.finish_reason, end.native_finish_reason) == ("stop", "STOP")
    assert end.usage == Usage(prompt_tokens=10, completion_tokens=5)
    request = gemini_upstream.requests[0]
    assert request.path == "/v1beta/models/gemini-test:streamGenerateContent"
    assert request.query == {"alt": "sse"}


async def test_multi_turn_uses_system_instruction_and_merges_same_role_turns(gemini_upstream, gemini_target):
    request = chat(
        {"role": "system", "content": "Be terse."},
        user("First question"),
        {"role": "assistant", "content": "First answer"},
        {"role": "developer", "content": "Answer in French."},
        user("Second"),
        user([{"type": "text", "text": "and third"}]),
    )
    result = await GoogleAdapter().complete(request, gemini_target)

    body = sent(gemini_upstream)
    assert body["systemInstruction"]["parts"] == [{"text": "Be terse."}, {"text": "Answer in French."}]
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "First question"}]},
        {"role": "model", "parts": [{"text": "First answer"}]},
        {"role": "user", "parts": [{"text": "Second"}, {"text": "and third"}]},
    ]
    assert result.choices[0]["message"]["content"] == "echo: and third"


async def test_empty_user_turns_get_a_placeholder_and_empty_model_turns_are_dropped(
    gemini_upstream, gemini_target
):
    await GoogleAdapter().complete(chat(user(""), {"role": "assistant", "content": ""}), gemini_target)
    assert sent(gemini_upstream)["contents"] == [{"role": "user", "parts": [{"text": " "}]}]


async def test_images_are_sent_inline_from_data_urls_and_fetched_http_urls(
    gemini_upstream, gemini_target, settings
):
    settings.IMAGE_FETCH_ALLOW_PRIVATE = True  # the image server is on loopback

    def images_app(_fake: FakeUpstream) -> web.Application:
        async def cat(_request: web.Request) -> web.Response:
            return web.Response(body=PNG, content_type="image/png")

        app = web.Application()
        app.router.add_get("/cat.png", cat)
        return app

    with FakeUpstream(make_app=images_app) as image_server:
        request = chat(
            user(
                [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{PNG_B64}"}},
                    {"type": "image_url", "image_url": {"url": f"{image_server.url}/cat.png"}},
                ]
            )
        )
        await GoogleAdapter().complete(request, gemini_target)

    parts = sent(gemini_upstream)["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/jpeg", "data": PNG_B64}}
    assert parts[2] == {"inlineData": {"mimeType": "image/png", "data": PNG_B64}}


async def test_audio_and_pdf_parts_are_sent_inline(gemini_upstream, gemini_target):
    request = chat(
        user(
            [
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
                },
            ]
        )
    )
    await GoogleAdapter().complete(request, gemini_target)
    parts = sent(gemini_upstream)["contents"][0]["parts"]
    assert parts == [
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
    ]


async def test_tool_call_round_trip_recovers_names_and_carries_the_thought_signature_back(
    gemini_upstream, gemini_target
):
    signature = base64.b64encode(b"opaque-signature-bytes").decode()
    gemini_upstream.push({"kind": "tool", "calls": 2, "signature": signature, "text": "Checking."})
    request = chat(user("Weather in Paris?"), tools=[WEATHER_TOOL], tool_choice="auto")
    first = await GoogleAdapter().complete(request, gemini_target)

    message = first.choices[0]["message"]
    assert first.choices[0]["finish_reason"] == "tool_calls" and first.native_finish_reason == "STOP"
    assert message["content"] == "Checking."
    calls = message["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_weather"]
    assert json.loads(calls[1]["function"]["arguments"]) == {"city": "Paris", "n": 1}
    assert split_call_id(calls[0]["id"])[1] == b"opaque-signature-bytes"
    assert calls[0]["id"] != calls[1]["id"] and calls[1]["id"].startswith("call_")
    body = sent(gemini_upstream)
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parametersJsonSchema": WEATHER_TOOL["function"]["parameters"],
                }
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}

    follow_up = chat(
        user("Weather in Paris?"),
        message,
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "rain"},
        user("Thanks, summarise."),
        tools=[WEATHER_TOOL],
    )
    second = await GoogleAdapter().complete(follow_up, gemini_target)

    contents = sent(gemini_upstream, 1)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"] == [
        {"text": "Checking."},
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris", "n": 0}},
            "thoughtSignature": signature,
        },
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "n": 1}}},
    ]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}},
        {"functionResponse": {"name": "get_weather", "response": {"content": "rain"}}},
        {"text": "Thanks, summarise."},
    ]
    assert second.choices[0]["message"]["content"] == "echo: Thanks, summarise."


async def test_gemini_call_ids_are_kept_and_echoed(gemini_upstream, gemini_target):
    gemini_upstream.push({"kind": "tool", "with_id": True})
    first = await GoogleAdapter().complete(chat(user("Weather?"), tools=[WEATHER_TOOL]), gemini_target)
    call = first.choices[0]["message"]["tool_calls"][0]
    assert call["id"] == "fc_0"

    follow_up = chat(
        user("Weather?"),
        first.choices[0]["message"],
        {"role": "tool", "tool_call_id": "fc_0", "content": "ok"},
    )
    await GoogleAdapter().complete(follow_up, gemini_target)
    contents = sent(gemini_upstream, 1)["contents"]
    assert contents[1]["parts"][0]["functionCall"]["id"] == "fc_0"
    assert contents[2]["parts"][0]["functionResponse"]["id"] == "fc_0"


async def test_signature_in_googles_extra_content_field_is_accepted(gemini_upstream, gemini_target):
    signature = base64.b64encode(b"sig").decode()
    request = chat(
        user("Weather?"),
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_x",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city_name": "Rome"}'},
                    "extra_content": {"google": {"thought_signature": signature}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_x", "content": "ok"},
    )
    await GoogleAdapter().complete(request, gemini_target)
    part = sent(gemini_upstream)["contents"][1]["parts"][0]
    assert part["thoughtSignature"] == signature
    assert part["functionCall"]["args"] == {"city_name": "Rome"}  # user data keeps its keys


async def test_tool_result_without_a_matching_call_is_refused(gemini_upstream, gemini_target):
    with pytest.raises(UpstreamError) as caught:
        await GoogleAdapter().complete(
            chat(user("x"), {"role": "tool", "tool_call_id": "nope", "content": "1"}), gemini_target
        )
    assert caught.value.status == 400
    assert gemini_upstream.requests == []


async def test_streamed_tool_calls_arrive_whole_with_their_own_index(gemini_upstream, gemini_target):
    gemini_upstream.push({"kind": "tool", "calls": 2, "text": "Let me check.", "signature": "c2ln"})
    deltas, end = await collect(chat(user("Weather?"), tools=[WEATHER_TOOL]), gemini_target)

    assert streamed_text(deltas) == "Let me check."
    call_deltas = [c for d in deltas for c in d["delta"].get("tool_calls") or []]
    assert [c["index"] for c in call_deltas] == [0, 1]
    assert [json.loads(c["function"]["arguments"]) for c in call_deltas] == [
        {"city": "Paris", "n": 0},
        {"city": "Paris", "n": 1},
    ]
    assert split_call_id(call_deltas[0]["id"])[1] == b"sig"
    assert all(c["type"] == "function" and c["function"]["name"] == "get_weather" for c in call_deltas)
    assert (end.finish_reason, end.native_finish_reason) == ("tool_calls", "STOP")


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
async def test_tool_choice_modes_map_to_function_calling_config(
    gemini_upstream, gemini_target, choice, expected
):
    await GoogleAdapter().complete(chat(user("hi"), tools=[WEATHER_TOOL], tool_choice=choice), gemini_target)
    assert sent(gemini_upstream)["toolConfig"] == {"functionCallingConfig": expected}


async def test_json_modes_set_the_response_mime_type_and_schema(gemini_upstream, gemini_target):
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    gemini_upstream.push("json", "json")
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    structured = await GoogleAdapter().complete(chat(user("?"), response_format=fmt), gemini_target)
    loose = await GoogleAdapter().complete(
        chat(user("?"), response_format={"type": "json_object"}), gemini_target
    )

    assert json.loads(structured.choices[0]["message"]["content"]) == {"answer": 42}
    assert json.loads(loose.choices[0]["message"]["content"]) == {"answer": 42}
    first, second = sent(gemini_upstream, 0)["generationConfig"], sent(gemini_upstream, 1)["generationConfig"]
    assert first["responseMimeType"] == "application/json" and first["responseJsonSchema"] == schema
    assert second["responseMimeType"] == "application/json" and "responseJsonSchema" not in second


@pytest.mark.parametrize(
    ("behaviour", "finish", "native"),
    [
        ("normal", "stop", "STOP"),
        ("length", "length", "MAX_TOKENS"),
        ("tool", "tool_calls", "STOP"),
        ("safety", "content_filter", "SAFETY"),
        ("recitation", "content_filter", "RECITATION"),
        (
            {"kind": "text", "text": "x", "finish": "PROHIBITED_CONTENT"},
            "content_filter",
            "PROHIBITED_CONTENT",
        ),
        (
            {"kind": "text", "text": "x", "finish": "MALFORMED_FUNCTION_CALL"},
            "stop",
            "MALFORMED_FUNCTION_CALL",
        ),
        ("blocked", "content_filter", "SAFETY"),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_every_finish_reason_maps_to_an_openai_finish_reason(
    gemini_upstream, gemini_target, behaviour, finish, native, streaming
):
    gemini_upstream.push(behaviour)
    request = chat(user("go"), tools=[WEATHER_TOOL])
    if streaming:
        deltas, end = await collect(request, gemini_target)
        assert (deltas[-1]["finish_reason"], end.finish_reason, end.native_finish_reason) == (
            finish,
            finish,
            native,
        )
    else:
        result = await GoogleAdapter().complete(request, gemini_target)
        assert (result.choices[0]["finish_reason"], result.native_finish_reason) == (finish, native)


PRICES = SimpleNamespace(
    input_price=Decimal("1.25"),
    output_price=Decimal("10"),
    cache_read_price=Decimal("0.125"),
    cache_write_price=Decimal("0"),
    request_price=Decimal("0"),
)
# promptTokenCount 100 includes 30 cached; candidates 30 + thoughts 20 = 50 completion tokens.
EXPECTED_USAGE = Usage(prompt_tokens=100, completion_tokens=50, cached_tokens=30, reasoning_tokens=20)
# 70×$1.25/M + 30×$0.125/M + 50×$10/M = 87_500 + 3_750 + 500_000 nano-USD.
EXPECTED_COST_NANOS = 591_250


async def test_usage_with_cached_and_thought_tokens_is_normalised_and_priced(gemini_upstream, gemini_target):
    gemini_upstream.push("usage", "usage")
    result = await GoogleAdapter().complete(chat(user("think"), reasoning_effort="high"), gemini_target)
    deltas, end = await collect(chat(user("think")), gemini_target)

    assert result.usage == EXPECTED_USAGE and end.usage == EXPECTED_USAGE
    assert usage_cost_nanos(result.usage, PRICES) == EXPECTED_COST_NANOS
    assert result.choices[0]["message"]["content"] == "Done thinking."
    assert result.choices[0]["message"]["reasoning"] == "Let me think."
    assert streamed_text(deltas) == "Done thinking."
    assert streamed_text(deltas, "reasoning") == "Let me think."
    thinking = sent(gemini_upstream)["generationConfig"]["thinkingConfig"]
    assert thinking == {"thinkingBudget": 16384, "includeThoughts": True}


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        ({"reasoning_effort": "none"}, {"thinkingBudget": 0, "includeThoughts": False}),
        ({"reasoning_effort": "low"}, {"thinkingBudget": 1024, "includeThoughts": True}),
        (
            {"reasoning": {"max_tokens": 2000, "exclude": True}},
            {"thinkingBudget": 2000, "includeThoughts": False},
        ),
        ({}, None),
    ],
)
async def test_reasoning_effort_becomes_a_thinking_budget(
    gemini_upstream, gemini_target, reasoning, expected
):
    await GoogleAdapter().complete(chat(user("hi"), **reasoning), gemini_target)
    assert sent(gemini_upstream)["generationConfig"].get("thinkingConfig") == expected


async def test_generation_parameters_are_translated(gemini_upstream, gemini_target):
    request = chat(
        user("hi"),
        temperature=0.2,
        top_p=0.9,
        top_k=5,
        seed=3,
        stop="END",
        presence_penalty=0.5,
        frequency_penalty=0.25,
        user="u-1",
    )
    await GoogleAdapter().complete(request, gemini_target)
    config = sent(gemini_upstream)["generationConfig"]
    assert config == {
        "temperature": 0.2,
        "topP": 0.9,
        "topK": 5,
        "seed": 3,
        "stopSequences": ["END"],
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
        "maxOutputTokens": 256,
    }


async def test_several_choices_come_from_candidate_count(gemini_upstream, gemini_target):
    gemini_upstream.push("candidates", "candidates")
    result = await GoogleAdapter().complete(chat(user("hi"), n=2), gemini_target)
    deltas, end = await collect(chat(user("hi"), n=2), gemini_target)

    assert end.finish_reason == "stop"
    assert [c["message"]["content"] for c in result.choices] == ["answer 0", "answer 1"]
    assert sent(gemini_upstream)["generationConfig"]["candidateCount"] == 2
    assert (streamed_text(deltas, index=0), streamed_text(deltas, index=1)) == ("answer 0", "answer 1")
    assert [d["finish_reason"] for d in deltas if d["finish_reason"]] == ["stop", "stop"]


async def test_required_parameters_the_provider_lacks_are_refused_by_name(gemini_upstream, gemini_target):
    request = chat(user("hi"), logit_bias={"1": 5}, verbosity="low", provider={"require_parameters": True})
    with pytest.raises(UpstreamError) as caught:
        await GoogleAdapter().complete(request, gemini_target)
    assert (caught.value.kind, caught.value.status) == ("invalid_request", 400)
    assert "logit_bias" in caught.value.message and "verbosity" in caught.value.message
    assert gemini_upstream.requests == []


async def test_logprobs_come_back_in_openai_shape(gemini_upstream, gemini_target):
    request = chat(user("abcdefgh"), logprobs=True, top_logprobs=2)
    result = await GoogleAdapter().complete(request, gemini_target)
    deltas, _ = await collect(request, gemini_target)

    config = sent(gemini_upstream)["generationConfig"]
    assert (config["responseLogprobs"], config["logprobs"]) == (True, 2)
    content = result.choices[0]["logprobs"]["content"]
    assert "".join(t["token"] for t in content) == "echo: abcdefgh"
    assert content[0] == {
        "token": "echo",
        "logprob": -0.5,
        "bytes": list(b"echo"),
        "top_logprobs": [
            {"token": "echo", "logprob": -0.5, "bytes": list(b"echo")},
            {"token": "?", "logprob": -3.0, "bytes": list(b"?")},
        ],
    }
    streamed = [t["token"] for d in deltas if d.get("logprobs") for t in d["logprobs"]["content"]]
    assert "".join(streamed) == "echo: abcdefgh"


async def test_base_url_with_a_version_suffix_is_understood(gemini_upstream):
    target = make_target(f"{gemini_upstream.url}/v1", "google")
    await GoogleAdapter().complete(chat(user("hi")), target)
    assert gemini_upstream.requests[0].path == "/v1/models/gemini-test:generateContent"


@pytest.mark.parametrize(
    ("behaviour", "kind", "status"),
    [
        ("rate_limit", "rate_limit", 429),
        ("overloaded", "overloaded", 503),
        ("server_error", "server", 502),
        ("invalid", "invalid_request", 400),
        ("unauthorized", "auth", 502),
        ("forbidden", "auth", 502),
        ("not_found", "not_found", 502),
        ({"kind": "status", "status": 504, "reason": "DEADLINE_EXCEEDED"}, "timeout", 504),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_provider_errors_map_to_gateway_statuses(
    gemini_upstream, gemini_target, behaviour, kind, status, streaming
):
    gemini_upstream.push(behaviour)
    with pytest.raises(UpstreamError) as caught:
        if streaming:
            await collect(chat(user("hi")), gemini_target)
        else:
            await GoogleAdapter().complete(chat(user("hi")), gemini_target)
    assert (caught.value.kind, caught.value.status) == (kind, status)
    if kind == "rate_limit":
        assert caught.value.retry_after == 7.0
    assert "sk-test-upstream" not in caught.value.message
    assert len(gemini_upstream.requests) == 1  # no SDK retries


async def test_retry_delay_is_read_from_the_error_details_when_there_is_no_header(
    gemini_upstream, gemini_target
):
    def app(_fake: FakeUpstream) -> web.Application:
        async def handler(_request: web.Request) -> web.Response:
            details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]
            body = {
                "error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED", "details": details}
            }
            return web.json_response(body, status=429)

        application = web.Application()
        application.router.add_post("/{tail:.+}", handler)
        return application

    with FakeUpstream(make_app=app) as server:
        with pytest.raises(UpstreamError) as caught:
            await GoogleAdapter().complete(chat(user("hi")), make_target(server.url, "google"))
    assert (caught.value.kind, caught.value.retry_after) == ("rate_limit", 12.0)


async def test_slow_first_byte_is_a_timeout(gemini_upstream, gemini_target):
    gemini_upstream.push({"kind": "slow", "delay": 1.5}, {"kind": "slow", "delay": 1.5})
    target = replace(gemini_target, first_byte_timeout=0.5, connect_timeout=0.5)
    with pytest.raises(UpstreamError) as caught:
        await GoogleAdapter().complete(chat(user("hi")), target)
    assert (caught.value.kind, caught.value.status) == ("timeout", 504)
    with pytest.raises(UpstreamError) as caught:
        await collect(chat(user("hi")), target)
    assert (caught.value.kind, caught.value.status) == ("timeout", 504)


async def test_a_stalled_stream_times_out(gemini_upstream, gemini_target):
    gemini_upstream.push({"kind": "stall", "seconds": 1.5})
    received: list[Any] = []
    with pytest.raises(UpstreamError) as caught:
        async for item in GoogleAdapter().stream(chat(user("hi")), replace(gemini_target, idle_timeout=0.5)):
            received.append(item)
    assert (caught.value.kind, caught.value.status) == ("timeout", 504)
    assert received[0][0]["delta"]["role"] == "assistant"


@pytest.mark.parametrize(
    ("behaviour", "kind", "status"),
    [("drop", "server", 502), ("error_event", "overloaded", 503), ("malformed", "bad_response", 502)],
)
async def test_mid_stream_failures_raise_after_the_first_deltas(
    gemini_upstream, gemini_target, behaviour, kind, status
):
    gemini_upstream.push(behaviour)
    received: list[Any] = []
    with pytest.raises(UpstreamError) as caught:
        async for item in GoogleAdapter().stream(chat(user("hi")), gemini_target):
            received.append(item)
    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert received


async def test_malformed_json_answer_is_a_bad_response(gemini_upstream, gemini_target):
    gemini_upstream.push("malformed")
    with pytest.raises(UpstreamError) as caught:
        await GoogleAdapter().complete(chat(user("hi")), gemini_target)
    assert (caught.value.kind, caught.value.status) == ("bad_response", 502)


async def test_unreachable_provider_is_a_connect_error(gemini_upstream):
    with pytest.raises(UpstreamError) as caught:
        await GoogleAdapter().complete(chat(user("hi")), make_target("http://127.0.0.1:9", "google"))
    assert (caught.value.kind, caught.value.status, caught.value.retryable) == ("connect", 502, True)


def test_fake_accepts_snake_case_keys_and_the_key_query_parameter(gemini_upstream: FakeUpstream):
    import urllib.request

    body = {
        "contents": [{"role": "user", "parts": [{"text": "yo"}]}],
        "system_instruction": {"parts": [{"text": "terse"}]},
        "generation_config": {"max_output_tokens": 5},
    }
    request = urllib.request.Request(
        f"{gemini_upstream.url}/v1/models/gemini-x:generateContent?key=k",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["candidates"][0]["content"]["parts"][0]["text"] == "echo: yo"
    assert sent(gemini_upstream)["generationConfig"] == {"maxOutputTokens": 5}


async def test_closing_the_stream_early_closes_the_upstream_connection(gemini_upstream, gemini_target):
    import asyncio

    gemini_upstream.push({"kind": "stall", "seconds": 0.5})
    stream = GoogleAdapter().stream(chat(user("hi")), gemini_target)
    first = await anext(stream)
    await stream.aclose()  # the client went away

    assert first[0]["delta"]["role"] == "assistant"
    for _ in range(40):
        if gemini_upstream.disconnects:
            break
        await asyncio.sleep(0.05)
    assert gemini_upstream.disconnects == 1


async def test_streamed_tool_call_round_trip_keeps_the_thought_signature(gemini_upstream, gemini_target):
    signature = base64.b64encode(b"streamed-signature").decode()
    gemini_upstream.push({"kind": "tool", "signature": signature})
    deltas, _ = await collect(chat(user("Weather?"), tools=[WEATHER_TOOL], stream=True), gemini_target)
    call = next(c for d in deltas for c in d["delta"].get("tool_calls") or [])
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{k: call[k] for k in ("id", "type", "function")}],
    }
    follow_up = chat(
        user("Weather?"),
        assistant,
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
        tools=[WEATHER_TOOL],
        stream=True,
    )
    deltas, end = await collect(follow_up, gemini_target)

    contents = sent(gemini_upstream, 1)["contents"]
    assert contents[1]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": signature}
    ]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}}
    ]
    assert end.finish_reason == "stop"


async def test_a_provider_message_quoting_the_key_is_scrubbed(gemini_upstream, gemini_target):
    message = "API key sk-test-upstream not valid (AIzaSyA-0123456789abcdefghijklmnopqrstu)"
    gemini_upstream.push({"kind": "status", "status": 400, "reason": "INVALID_ARGUMENT", "message": message})
    with pytest.raises(UpstreamError) as caught:
        await GoogleAdapter().complete(chat(user("hi")), gemini_target)
    assert "sk-test-upstream" not in str(caught.value) and "AIzaSy" not in caught.value.message
    assert "not valid" in caught.value.message
