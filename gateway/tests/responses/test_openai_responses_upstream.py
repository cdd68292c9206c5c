"""An OpenAI provider with ``responses_api`` is called over OpenAI's Responses API upstream (the
fake speaks it): its encrypted reasoning survives the turns; every surface still answers."""

from __future__ import annotations

import json

import httpx
import pytest

from billing.models import Generation
from gateway.tests.responses.test_sdk_responses import WEATHER
from gateway.tests.responses.test_sdk_stream import _comparable, _plain_and_streamed
from tests.fakes.openai_server import fake_reasoning_id
from tests.fixtures import create_model

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]
MODEL = "openai/gpt-5-mini"


@pytest.fixture
def upstream(world):
    from catalog.models import Provider
    from catalog.snapshot import invalidate_local

    create_model(
        slug=MODEL,
        provider_slug="openai-responses",
        protocol="openai",
        upstream_model="gpt-5-mini",
        base_url=f"{world.openai.url}/v1",
        api_key="sk-test-fake-key-1234",
        input_price="0.25",
        output_price="2",
    )
    Provider.objects.filter(slug="openai-responses").update(responses_api=True)
    invalidate_local()
    return world.openai


def test_reasoning_items_come_back_and_go_back_to_openai_encrypted(world, upstream):
    upstream.push("reasoning")
    before = world.customer.balance()

    first = world.client.responses.create(model=MODEL, input="think", reasoning={"effort": "low"})

    sent = upstream.requests[-1]
    reasoning_id = fake_reasoning_id(sent.json)
    assert sent.path == "/v1/responses"
    assert sent.json["store"] is False and sent.json["include"] == ["reasoning.encrypted_content"]
    assert sent.json["reasoning"] == {"effort": "low", "summary": "auto"}
    assert sent.json["input"] == [{"role": "user", "content": [{"type": "input_text", "text": "think"}]}]
    reasoning, message = first.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Thinking about it."
    assert message.content[0].text == "think"
    gen = Generation.objects.get(pk=first.id)
    assert first.usage.output_tokens_details.reasoning_tokens == gen.reasoning_tokens == 8
    assert before - world.customer.balance() == gen.cost_nanos > 0

    world.client.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "think"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"role": "user", "content": "and now?"},
        ],
    )
    items = upstream.requests[-1].json["input"]
    assert items[1] == {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Thinking about it."}],
        "encrypted_content": f"enc-{reasoning_id}",
        "id": f"rs_{reasoning_id}",
    }
    assert items[2]["type"] == "message" and items[2]["content"][0]["text"] == "think"


@pytest.mark.parametrize("behaviour", ["reasoning", "tools", "refusal"])
def test_streams_over_the_responses_wire_accumulate_like_the_plain_answer(world, upstream, behaviour):
    request = {"model": MODEL, "input": "Weather in Paris?", "tools": [WEATHER]}
    plain, streamed, _ = _plain_and_streamed(world, request, lambda: upstream.push(behaviour))

    assert _comparable(streamed) == _comparable(plain)
    assert upstream.requests[-1].json["stream"] is True
    if behaviour == "tools":
        call = streamed.output[-1]
        assert call.type == "function_call" and json.loads(call.arguments) == {"city": "Paris"}
        assert upstream.requests[-1].json["tools"][0] == {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": WEATHER["parameters"],
        }


def test_chat_completions_and_messages_answer_over_the_responses_wire(world, upstream):
    upstream.push("reasoning")
    chat = httpx.post(
        f"{world.url}/api/v1/chat/completions",
        headers=world.customer.headers,
        json={"model": MODEL, "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 50},
    )
    assert chat.status_code == 200, chat.text
    message = chat.json()["choices"][0]["message"]
    assert message["content"] == "hello there" and message["reasoning"] == "Thinking about it."
    assert upstream.requests[-1].json["max_output_tokens"] == 50

    streamed = httpx.post(
        f"{world.url}/api/v1/messages",
        headers={"x-api-key": world.customer.secret},
        json={
            "model": MODEL,
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert streamed.status_code == 200 and "message_stop" in streamed.text
    gens = Generation.objects.filter(model_slug=MODEL, status="success")
    assert gens.count() == 2 and all(g.cost_nanos > 0 for g in gens)
