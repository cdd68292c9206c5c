"""``client.responses.stream`` (and ``stream=True``) from the official ``openai`` SDK: typed events
with sequence numbers that accumulate into what ``responses.create`` returns."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from billing.models import Generation
from gateway.tests.responses.conftest import ANTHROPIC_USAGE_NANOS, MODELS
from gateway.tests.responses.test_sdk_responses import WEATHER, _push_tool_call

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]


def _comparable(response: Any) -> dict[str, Any]:
    """A response without what differs between two generations (ids, timestamps)."""
    body = response.model_dump(exclude_none=True)
    for name in ("id", "created_at"):
        body.pop(name, None)
    for item in body["output"]:
        item.pop("id", None)
        if item.get("type") == "function_call":
            item.pop("call_id", None)
    return body


def _plain_and_streamed(world, request: dict[str, Any], push: Any = None) -> tuple[Any, Any, list[Any]]:
    if push is not None:
        push()
    plain = world.client.responses.create(**request)
    if push is not None:
        push()
    with world.client.responses.stream(**request) as stream:
        events = list(stream)
        streamed = stream.get_final_response()
    return plain, streamed, events


@pytest.mark.parametrize("model", MODELS)
def test_the_stream_accumulates_into_the_plain_response(world, model):
    request = {"model": model, "instructions": "Be brief.", "input": "one two three four five six seven"}
    before = world.customer.balance()

    plain, streamed, events = _plain_and_streamed(world, request)

    assert _comparable(streamed) == _comparable(plain)
    assert streamed.output_text == plain.output_text and "one two three" in streamed.output_text
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert {"response.output_item.added", "response.content_part.added", "response.output_text.delta"} <= set(
        kinds
    )
    assert {"response.output_text.done", "response.content_part.done", "response.output_item.done"} <= set(
        kinds
    )
    assert [event.sequence_number for event in events] == list(range(len(events)))
    gen = Generation.objects.get(pk=streamed.id)
    assert gen.api == "responses" and gen.streamed is True and gen.status == "success"
    plain_gen = Generation.objects.get(pk=plain.id)
    assert before - world.customer.balance() == gen.cost_nanos + plain_gen.cost_nanos
    assert gen.cost_nanos == plain_gen.cost_nanos > 0 and world.customer.held() == 0


@pytest.mark.parametrize("model", MODELS)
def test_a_streamed_function_call_accumulates_like_the_plain_one(world, model):
    ask = 'Weather in Paris? call get_weather {"city": "Paris"}'
    request = {"model": model, "input": ask, "tools": [WEATHER]}

    plain, streamed, events = _plain_and_streamed(world, request, lambda: _push_tool_call(world, model))

    assert _comparable(streamed) == _comparable(plain)
    call = next(item for item in streamed.output if item.type == "function_call")
    assert json.loads(call.arguments) == {"city": "Paris"}
    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds


def test_streamed_reasoning_accumulates_with_its_signature_and_the_cost_is_exact(world):
    request = {"model": "anthropic/claude-sonnet-4-5", "input": "think", "reasoning": {"effort": "low"}}
    request["max_output_tokens"] = 2000
    plain, streamed, events = _plain_and_streamed(world, request, lambda: world.anthropic.push("usage"))

    assert _comparable(streamed) == _comparable(plain)
    assert streamed.output[0].type == "reasoning" and streamed.output[0].encrypted_content
    kinds = [event.type for event in events]
    assert "response.reasoning_summary_text.delta" in kinds
    assert streamed.usage.model_dump() == plain.usage.model_dump()
    assert Generation.objects.get(pk=streamed.id).cost_nanos == ANTHROPIC_USAGE_NANOS


def test_a_stream_cut_by_max_output_tokens_ends_incomplete(world, make_mock_model):
    make_mock_model(slug="mock/lorem", upstream_model="lorem")
    stream = world.client.responses.create(model="mock/lorem", input="go", max_output_tokens=16, stream=True)
    events = list(stream)
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert events[-1].response.usage.output_tokens == 16


def test_a_failure_after_the_stream_began_is_response_failed_and_bills_what_was_produced(world):
    world.anthropic.push("error_event")
    before = world.customer.balance()

    stream = world.client.responses.create(model="anthropic/claude-sonnet-4-5", input="hello", stream=True)
    events = list(stream)

    assert events[0].type == "response.created" and events[-1].type == "response.failed"
    assert events[-1].response.status == "failed" and events[-1].response.error.message
    gen = Generation.objects.get(api="responses", status="error")
    assert before - world.customer.balance() == gen.cost_nanos
    assert world.customer.held() == 0


def test_a_failure_before_the_stream_began_is_an_error_status(world):
    world.openai.push(*["rate_limit"] * 3)
    with pytest.raises(openai.RateLimitError):
        with world.client.responses.stream(model="openai/gpt-4o-mini", input="x") as stream:
            list(stream)
    assert world.customer.held() == 0


def test_a_refusal_is_a_refusal_part_streamed_or_not(world):
    request = {"model": "openai/gpt-4o-mini", "input": "something bad"}
    plain, streamed, events = _plain_and_streamed(world, request, lambda: world.openai.push("refusal"))

    assert plain.output[0].content[0].type == "refusal"
    assert plain.output[0].content[0].refusal == "I'm sorry, I can't help with that."
    assert _comparable(streamed) == _comparable(plain)
    kinds = [event.type for event in events]
    assert "response.refusal.delta" in kinds and "response.refusal.done" in kinds
    assert streamed.output_text == ""
