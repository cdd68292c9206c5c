from decimal import Decimal

import pytest

from billing.models import Generation
from gateway.tests.conftest import chat

pytestmark = pytest.mark.django_db

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
def customer(make_customer, make_openai_model):
    make_openai_model()
    return make_customer()


def _nanos(prompt: int, completion: int) -> int:
    # gpt-4o-mini at $0.15/M in and $0.60/M out: 150 and 600 nanos a token.
    return prompt * 150 + completion * 600


def test_answer_comes_from_the_upstream_with_its_usage_and_exact_cost(customer, call_api, openai_upstream):
    before = customer.balance()

    result = call_api(chat("openai/gpt-4o-mini", text="Say hello to the fake"), customer.secret)

    assert result.status == 200
    body = result.json()
    assert body["model"] == "openai/gpt-4o-mini" and body["provider"] == "OpenAI"
    assert body["choices"][0]["message"]["content"] == "Say hello to the fake"
    assert body["usage"]["prompt_tokens"] == 9 and body["usage"]["completion_tokens"] == 6
    cost = _nanos(9, 6)
    assert Decimal(str(body["usage"]["cost"])) * 10**9 == cost
    assert before - customer.balance() == cost
    sent = openai_upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.headers["authorization"] == "Bearer sk-test-fake-key-1234"
    assert sent.headers.get("x-stainless-retry-count", "0") == "0"
    assert sent.json["max_tokens"] == 4096


def test_stream_asks_upstream_for_usage_and_bills_it(customer, call_api, openai_upstream):
    before = customer.balance()

    result = call_api(chat("openai/gpt-4o-mini", text="alpha beta gamma delta", stream=True), customer.secret)

    assert result.status == 200
    assert openai_upstream.requests[-1].json["stream_options"] == {"include_usage": True}
    assert result.text == "alpha beta gamma delta"
    usage = result.chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (9, 6)
    assert before - customer.balance() == _nanos(9, 6)
    assert result.events[-1] == "[DONE]"


def test_stream_without_upstream_usage_is_counted_from_the_text(customer, call_api, openai_upstream):
    openai_upstream.push("no_usage")

    result = call_api(
        chat("openai/gpt-4o-mini", text="count me from the text please", stream=True), customer.secret
    )

    usage = result.chunks[-1]["usage"]
    # 29 characters -> 8 tokens; prompt from the request: 3 + 8.
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (11, 8)
    gen = Generation.objects.get(pk=result.chunks[-1]["id"])
    assert gen.cost_nanos == _nanos(11, 8)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_round_trip(customer, call_api, openai_upstream, stream):
    openai_upstream.push({"kind": "tools", "arguments": {"city": "Paris"}})
    first = call_api(
        chat("openai/gpt-4o-mini", text="Weather in Paris?", tools=[WEATHER_TOOL], stream=stream),
        customer.secret,
    )
    if stream:
        calls = [
            c for e in first.chunks for ch in e["choices"] for c in (ch["delta"].get("tool_calls") or [])
        ]
        assert calls[0]["id"] == "call_fake_1" and calls[0]["function"]["name"] == "get_weather"
        arguments = "".join(c["function"].get("arguments", "") for c in calls)
        finish = [ch["finish_reason"] for e in first.chunks for ch in e["choices"] if ch["finish_reason"]]
        assert finish == ["tool_calls"]
    else:
        message = first.json()["choices"][0]["message"]
        assert first.json()["choices"][0]["finish_reason"] == "tool_calls"
        arguments = message["tool_calls"][0]["function"]["arguments"]
    assert arguments == '{"city":"Paris"}'

    second = call_api(
        {
            "model": "openai/gpt-4o-mini",
            "tools": [WEATHER_TOOL],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_fake_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": arguments},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_fake_1", "content": "sunny"},
                {"role": "user", "content": "Thanks, summarise"},
            ],
            "stream": stream,
        },
        customer.secret,
    )
    assert second.status == 200
    assert openai_upstream.requests[-1].json["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_fake_1",
        "content": "sunny",
    }
