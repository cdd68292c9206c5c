from decimal import Decimal

import pytest

from billing.models import Generation
from gateway.tests.conftest import chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(make_customer, make_mock_model):
    make_mock_model(input_price="1", output_price="2")
    return make_customer()


def test_echo_answers_the_last_user_message_with_usage_and_cost(customer, call_api):
    before = customer.balance()

    result = call_api(chat(text="Hello there, gateway!"), customer.secret)

    assert result.status == 200
    body = result.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("gen-") and result.headers["x-generation-id"] == body["id"]
    assert body["model"] == "mock/echo"
    assert body["provider"] == "Mock"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello there, gateway!",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    # 21 characters -> 6 tokens; prompt = 3 per message + 6.
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (9, 6, 15)
    expected_nanos = 9 * 1000 + 6 * 2000  # $1/M in, $2/M out
    assert Decimal(str(usage["cost"])) == Decimal(expected_nanos) / 10**9
    assert before - customer.balance() == expected_nanos
    assert customer.held() == 0
    gen = Generation.objects.get(pk=body["id"])
    assert (gen.status, gen.cost_nanos, gen.prompt_tokens, gen.completion_tokens) == (
        "success",
        expected_nanos,
        9,
        6,
    )
    assert gen.api_key_id == customer.key.id and gen.streamed is False
    assert gen.api == "chat"  # the API surface the request came in through


def test_streaming_sends_chunks_then_usage_then_done(customer, call_api):
    result = call_api(chat(text="one two three four five six seven", stream=True), customer.secret)

    assert result.status == 200
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.events[-1] == "[DONE]"
    chunks = result.chunks
    assert len(chunks) >= 4
    assert all(
        c["object"] == "chat.completion.chunk" and c["id"] == result.headers["x-generation-id"]
        for c in chunks
    )
    assert result.text == "one two three four five six seven"
    last = chunks[-1]
    assert last["choices"] == []
    assert last["usage"]["completion_tokens"] == 9
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    gen = Generation.objects.get(pk=last["id"])
    assert gen.streamed and gen.status == "success" and gen.cost_nanos == 12 * 1000 + 9 * 2000


def test_lorem_fills_up_to_max_tokens_and_stops_for_length(customer, make_mock_model, call_api):
    make_mock_model(slug="mock/lorem", upstream_model="lorem")

    result = call_api(chat("mock/lorem", max_tokens=10), customer.secret)

    body = result.json()
    assert body["usage"]["completion_tokens"] == 10
    assert body["choices"][0]["finish_reason"] == "length"
    assert call_api(chat("mock/lorem", max_tokens=10), customer.secret).json()["choices"] == body["choices"]


def test_image_parts_are_accepted_and_held_with_an_allowance(customer, call_api):
    from billing.models import Hold
    from gateway.pipeline.holds import IMAGE_TOKEN_ALLOWANCE

    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    result = call_api(
        {"model": "mock/echo", "messages": [{"role": "user", "content": content}]}, customer.secret
    )

    assert result.status == 200
    assert result.json()["choices"][0]["message"]["content"] == "What is in this picture?"
    hold = Hold.objects.get()
    assert hold.amount_nanos > 2 * IMAGE_TOKEN_ALLOWANCE * 1000  # two images at $1/M input


def test_mock_tool_call_is_deterministic(customer, call_api):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    body = chat(text='please call lookup {"q": "fox"}', tools=[tool])
    first = call_api(body, customer.secret).json()["choices"][0]
    second = call_api(body, customer.secret).json()["choices"][0]
    assert first["finish_reason"] == "tool_calls"
    assert first["message"]["tool_calls"] == second["message"]["tool_calls"]
    assert first["message"]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"q":"fox"}'}
    plain = call_api(chat(text="no tools wanted", tools=[tool]), customer.secret).json()["choices"][0]
    assert plain["finish_reason"] == "stop" and "tool_calls" not in plain["message"]
