"""``client.responses.create`` from the official ``openai`` SDK against /api/v1/responses, for a
mock, an OpenAI, an Anthropic and a Gemini model behind the fakes."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from django.db import connection

from billing.models import Generation
from gateway.tests.responses.conftest import ANTHROPIC_USAGE_NANOS, GEMINI_USAGE_NANOS, MODELS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The anthropic SDK warns that the fake's model name is old; it is only a name here.
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@pytest.mark.parametrize("model", MODELS)
def test_a_string_input_is_answered_billed_and_recorded_as_the_responses_api(world, model):
    before = world.customer.balance()

    response = world.client.responses.create(
        model=model, instructions="Be brief.", input="Hello from the SDK"
    )

    assert response.object == "response" and response.status == "completed"
    assert "Hello from the SDK" in response.output_text
    assert response.output[-1].type == "message" and response.output[-1].role == "assistant"
    assert response.instructions == "Be brief." and response.store is False
    gen = Generation.objects.get(pk=response.id)
    assert gen.api == "responses" and gen.status == "success" and gen.streamed is False
    assert response.usage.input_tokens == gen.prompt_tokens > 0
    assert response.usage.output_tokens == gen.completion_tokens > 0
    assert response.usage.total_tokens == gen.prompt_tokens + gen.completion_tokens
    assert before - world.customer.balance() == gen.cost_nanos > 0
    assert world.customer.held() == 0
    fake = world.fake_for(model)
    if fake is not None:  # the instructions went upstream as the system prompt
        assert "Be brief." in json.dumps(fake.requests[-1].json)


@pytest.mark.parametrize("model", MODELS)
def test_item_input_keeps_the_conversation_in_order(world, model):
    response = world.client.responses.create(
        model=model,
        input=[
            {"role": "developer", "content": "Answer in one word."},
            {"role": "user", "content": [{"type": "input_text", "text": "first question"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "first answer", "annotations": []}],
            },
            {"role": "user", "content": [{"type": "input_text", "text": "second question"}]},
        ],
    )

    assert "second question" in response.output_text
    fake = world.fake_for(model)
    if fake is None:
        return
    sent = json.dumps(fake.requests[-1].json)
    order = [sent.index(text) for text in ("first question", "first answer", "second question")]
    assert order == sorted(order) and "Answer in one word." in sent


def _push_tool_call(world, model):
    fake = world.fake_for(model)
    if model.startswith("openai/"):
        fake.push({"kind": "tools", "arguments": {"city": "Paris"}})
    elif model.startswith("anthropic/"):
        fake.push({"kind": "tool", "calls": 1, "text": "Checking."})
    elif model.startswith("google/"):
        fake.push("tool")


@pytest.mark.parametrize("model", MODELS)
def test_a_function_tool_round_trip(world, model):
    _push_tool_call(world, model)
    ask = 'Weather in Paris? call get_weather {"city": "Paris"}'
    first = world.client.responses.create(model=model, input=ask, tools=[WEATHER], tool_choice="auto")

    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id and call.status == "completed"

    second = world.client.responses.create(
        model=model,
        tools=[WEATHER],
        input=[
            {"role": "user", "content": ask},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21C"},
        ],
    )
    assert second.status == "completed" and second.output_text
    fake = world.fake_for(model)
    if model == "mock/echo":
        assert "Sunny, 21C" in second.output_text  # the mock answers what the tool returned
    elif model.startswith("openai/"):
        turns = fake.requests[-1].json["messages"]
        assert turns[1]["tool_calls"][0]["id"] == call.call_id
        assert turns[1]["tool_calls"][0]["function"]["name"] == "get_weather"
        assert turns[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "Sunny, 21C"}
    elif model.startswith("anthropic/"):
        turns = fake.requests[-1].json["messages"]
        assert turns[1]["content"][-1]["type"] == "tool_use" and turns[1]["content"][-1]["id"] == call.call_id
        assert turns[2]["content"][0]["type"] == "tool_result"
        assert turns[2]["content"][0]["tool_use_id"] == call.call_id
    else:
        assert "Sunny, 21C" in json.dumps(fake.requests[-1].json["contents"])
    assert Generation.objects.filter(api="responses", status="success").count() == 2


def test_tool_settings_reach_the_model(world):
    world.openai.push({"kind": "tools"})
    world.client.responses.create(
        model="openai/gpt-4o-mini",
        input="Weather?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
    )
    sent = world.openai.requests[-1].json
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER["parameters"],
            },
        }
    ]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False


def test_namespaced_tools_round_trip_and_server_side_tools_are_left_out(world):
    spaced = {"type": "namespace", "name": "crm", "description": "CRM tools.", "tools": [WEATHER]}
    world.openai.push({"kind": "tools"})
    first = world.client.responses.create(
        model="openai/gpt-4o-mini", input="Weather?", tools=[{"type": "web_search"}, spaced]
    )
    sent = world.openai.requests[-1].json
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["crm__get_weather"]
    call = first.output[-1]
    assert call.type == "function_call" and call.name == "get_weather" and call.namespace == "crm"

    world.client.responses.create(
        model="openai/gpt-4o-mini",
        tools=[spaced],
        input=[
            {"role": "user", "content": "Weather?"},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"},
        ],
    )
    assert (
        world.openai.requests[-1].json["messages"][1]["tool_calls"][0]["function"]["name"]
        == "crm__get_weather"
    )


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def test_text_format_json_schema_and_json_object_reach_each_provider(world):
    fmt = {"type": "json_schema", "name": "answer", "schema": SCHEMA, "strict": True}
    world.openai.push({"kind": "normal", "text": '{"answer": 42}'})
    answered = world.client.responses.create(model="openai/gpt-4o-mini", input="x", text={"format": fmt})
    assert json.loads(answered.output_text) == {"answer": 42}
    assert answered.text.format.type == "json_schema"
    assert world.openai.requests[-1].json["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
    }

    world.anthropic.push("json")
    world.client.responses.create(model="anthropic/claude-sonnet-4-5", input="x", text={"format": fmt})
    assert world.anthropic.requests[-1].json["output_config"]["format"]["schema"] == SCHEMA

    world.gemini.push("json")
    world.client.responses.create(
        model="google/gemini-test", input="x", text={"format": {"type": "json_object"}}
    )
    config = world.gemini.requests[-1].json["generationConfig"]
    assert config["responseMimeType"] == "application/json"

    world.client.responses.create(
        model="openai/gpt-4o-mini", input="x", text={"format": {"type": "json_object"}}
    )
    assert world.openai.requests[-1].json["response_format"] == {"type": "json_object"}


def test_reasoning_comes_back_as_items_and_goes_back_to_anthropic_signed(world):
    before = world.customer.balance()
    world.anthropic.push("usage")  # a signed thinking block, text, cache reads and writes

    response = world.client.responses.create(
        model="anthropic/claude-sonnet-4-5",
        input="think hard",
        reasoning={"effort": "low"},
        max_output_tokens=2000,
    )

    reasoning = response.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary[0].text
    assert reasoning.encrypted_content
    assert response.output[1].type == "message"
    gen = Generation.objects.get(pk=response.id)
    assert response.usage.input_tokens == gen.prompt_tokens
    assert response.usage.input_tokens_details.cached_tokens == gen.cached_tokens > 0
    assert response.usage.output_tokens_details.reasoning_tokens == gen.reasoning_tokens > 0
    assert before - world.customer.balance() == gen.cost_nanos == ANTHROPIC_USAGE_NANOS
    assert "thinking" in world.anthropic.requests[-1].json  # effort turned thinking on

    world.client.responses.create(
        model="anthropic/claude-sonnet-4-5",
        max_output_tokens=2000,
        reasoning={"effort": "low"},
        input=[
            {"role": "user", "content": "think hard"},
            *[item.model_dump(exclude_none=True) for item in response.output],
            {"role": "user", "content": "and now?"},
        ],
    )
    turn = world.anthropic.requests[-1].json["messages"][1]["content"]
    assert turn[0]["type"] == "thinking"
    assert turn[0]["thinking"] == reasoning.summary[0].text and turn[0]["signature"]


def test_reasoning_effort_reaches_openai_and_gemini_reasoning_is_billed_exactly(world):
    world.client.responses.create(model="openai/gpt-4o-mini", input="x", reasoning={"effort": "high"})
    assert world.openai.requests[-1].json["reasoning_effort"] == "high"

    before = world.customer.balance()
    world.gemini.push("usage")
    response = world.client.responses.create(
        model="google/gemini-test", input="x", reasoning={"effort": "low"}
    )
    assert response.output[0].type == "reasoning" and response.output[0].summary[0].text
    gen = Generation.objects.get(pk=response.id)
    assert response.usage.output_tokens_details.reasoning_tokens == gen.reasoning_tokens > 0
    assert before - world.customer.balance() == gen.cost_nanos == GEMINI_USAGE_NANOS
    assert "thinkingConfig" in world.gemini.requests[-1].json["generationConfig"]


def test_max_output_tokens_caps_the_answer_and_a_cut_answer_is_incomplete(world, make_mock_model):
    make_mock_model(slug="mock/lorem", upstream_model="lorem")
    response = world.client.responses.create(model="mock/lorem", input="write a lot", max_output_tokens=16)

    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 16 and response.max_output_tokens == 16

    world.client.responses.create(model="openai/gpt-4o-mini", input="x", max_output_tokens=33)
    assert world.openai.requests[-1].json["max_tokens"] == 33


def test_images_reach_each_provider(world):
    content = [
        {"type": "input_text", "text": "Describe these."},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "low"},
    ]
    world.client.responses.create(model="openai/gpt-4o-mini", input=[{"role": "user", "content": content}])
    parts = world.openai.requests[-1].json["messages"][0]["content"]
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"},
    }

    world.client.responses.create(
        model="anthropic/claude-sonnet-4-5", input=[{"role": "user", "content": content}]
    )
    blocks = world.anthropic.requests[-1].json["messages"][0]["content"]
    assert {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}} in blocks

    world.client.responses.create(model="google/gemini-test", input=[{"role": "user", "content": content}])
    assert PNG in json.dumps(world.gemini.requests[-1].json["contents"])


def test_state_is_refused_with_a_clear_400(world):
    client, before = world.client, world.customer.balance()
    with pytest.raises(openai.BadRequestError) as previous:
        client.responses.create(model="mock/echo", input="x", previous_response_id="resp_123")
    assert "stateless" in previous.value.message and previous.value.body["param"] == "previous_response_id"

    with pytest.raises(openai.BadRequestError) as stored:
        client.responses.create(model="mock/echo", input="x", store=True)
    assert "whole conversation" in stored.value.message

    with pytest.raises(openai.BadRequestError) as read:
        client.responses.retrieve("gen-123")
    assert "does not store responses" in read.value.message
    with pytest.raises(openai.BadRequestError):
        client.responses.delete("gen-123")

    assert client.responses.create(model="mock/echo", input="x", store=False).status == "completed"
    assert world.customer.balance() < before


def test_errors_come_in_openais_shape(world, make_customer):
    url, customer = world.url, world.customer
    with pytest.raises(openai.BadRequestError) as missing:
        world.client.responses.create(model="mock/echo")  # type: ignore[call-overload]
    assert missing.value.body["param"] == "input"

    bad = openai.OpenAI(base_url=f"{url}/api/v1", api_key="pg-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.responses.create(model="mock/echo", input="x")

    with pytest.raises(openai.NotFoundError):
        world.client.responses.create(model="nope/nothing", input="x")

    with pytest.raises(openai.BadRequestError) as unknown_tool:
        world.client.responses.create(
            model="mock/echo", input="x", tools=[{"type": "custom", "name": "apply_patch"}]
        )
    assert "only function tools" in unknown_tool.value.message

    world.anthropic.push(*["rate_limit"] * 3)
    with pytest.raises(openai.RateLimitError):
        world.client.responses.create(model="anthropic/claude-sonnet-4-5", input="x")

    raw = httpx.post(f"{url}/api/v1/responses", headers=customer.headers, content=b"{nope")
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
    got = httpx.get(f"{url}/api/v1/responses", headers=customer.headers)
    assert got.status_code == 405 and got.json()["error"]["message"] == "Use POST."

    capped = make_customer(limit_nanos=1)
    capped_before = capped.balance()
    refused = httpx.post(
        f"{url}/api/v1/responses", headers=capped.headers, json={"model": "mock/echo", "input": "hi"}
    )
    assert refused.status_code == 402 and refused.json()["error"]["code"]
    assert capped.balance() == capped_before and customer.held() == 0 and capped.held() == 0


def test_provider_failures_are_openai_errors_with_gateway_statuses_and_nothing_is_charged(world):
    before = world.customer.balance()
    world.openai.push(*["server_error"] * 5)
    with pytest.raises(openai.APIStatusError) as server:
        world.client.responses.create(model="openai/gpt-4o-mini", input="x")
    assert server.value.status_code == 502 and server.value.body["type"] == "upstream_error"

    world.anthropic.push(*["overloaded"] * 5)
    with pytest.raises(openai.APIStatusError) as overloaded:
        world.client.responses.create(model="anthropic/claude-sonnet-4-5", input="x")
    assert overloaded.value.status_code == 503 and overloaded.value.response.headers.get("retry-after")

    world.gemini.push("invalid")
    with pytest.raises(openai.BadRequestError):
        world.client.responses.create(model="google/gemini-test", input="x")

    assert world.customer.balance() == before and world.customer.held() == 0
    assert set(Generation.objects.values_list("status", flat=True)) == {"error"}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers: the in-memory SQLite test database locks"
)
def test_a_key_spend_cap_holds_under_concurrent_responses_streams(world, make_customer, make_mock_model):
    from concurrent.futures import ThreadPoolExecutor

    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="1", output_price="2")
    # Each request's hold covers 1,000 output tokens at $2/M = 2,000,000 nanos (plus its prompt):
    # the cap admits two at a time, however many arrive together.
    capped = make_customer(limit_nanos=5_000_000)
    before = capped.balance()
    body = {"model": "mock/lorem", "input": "go", "max_output_tokens": 1000, "stream": True}
    body["mock_delay_ms"] = 50  # every stream is still open when the last one arrives
    url = f"{world.url}/api/v1/responses"

    def one(_: int) -> int:
        with httpx.Client(timeout=60) as client:
            with client.stream("POST", url, headers=capped.headers, json=body) as response:
                response.read()
                return response.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(8)))

    assert statuses.count(200) >= 1 and statuses.count(402) >= 1
    assert set(statuses) <= {200, 402}
    spent = before - capped.balance()
    generations = Generation.objects.filter(api_key_id=capped.key.id)
    assert spent == sum(g.cost_nanos for g in generations) <= 5_000_000
    assert capped.held() == 0


def test_input_tokens_are_counted_free_of_charge_for_models_the_key_may_call(world):
    before = world.customer.balance()

    short = world.client.responses.input_tokens.count(model="mock/echo", input="Hi")
    long = world.client.responses.input_tokens.count(
        model="anthropic/claude-sonnet-4-5", instructions="Be brief.", input="Hi " * 400, tools=[WEATHER]
    )

    assert short.object == "response.input_tokens" and 0 < short.input_tokens < long.input_tokens
    assert world.customer.balance() == before and not Generation.objects.exists()
    with pytest.raises(openai.NotFoundError):
        world.client.responses.input_tokens.count(model="nope/nothing", input="x")
    with pytest.raises(openai.BadRequestError):
        world.client.responses.input_tokens.count(model="mock/echo", input="x", previous_response_id="r")
    anonymous = httpx.post(
        f"{world.url}/api/v1/responses/input_tokens", json={"model": "mock/echo", "input": "x"}
    )
    assert anonymous.status_code == 401
