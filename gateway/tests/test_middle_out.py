"""transforms: ["middle-out"]: an over-long prompt loses turns from its middle until it fits."""

from __future__ import annotations

import pytest

from gateway.pipeline.middle_out import compress
from gateway.pipeline.tokens import count_prompt_tokens
from gateway.tests.conftest import chat

WORDS = "lorem ipsum dolor sit amet " * 8  # 216 characters: 54 tokens, 57 with the message overhead


def _conversation(turns: int) -> list[dict]:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
    ]
    for i in range(turns):
        messages.append({"role": "assistant", "content": f"answer {i} {WORDS}"})
        messages.append({"role": "user", "content": f"question {i + 1} {WORDS}"})
    return messages


def test_a_prompt_that_fits_is_left_alone():
    messages = _conversation(3)
    assert compress(messages, None, 10_000) is messages


def test_keeps_the_system_prompt_first_user_turn_and_latest_turn_and_drops_the_middle_first():
    messages = _conversation(4)  # system, first user, then 8 long turns
    limit = count_prompt_tokens(messages) - 2 * 60  # room lost for about two long turns

    kept = compress(messages, None, limit)

    assert count_prompt_tokens(kept) <= limit
    assert kept[:2] == messages[:2] and kept[-1] == messages[-1]
    dropped = [m["content"][:10] for m in messages if m not in kept]
    # The two turns nearest the middle of the droppable ones (indexes 2..8) go first.
    assert dropped == [messages[5]["content"][:10], messages[6]["content"][:10]]


def test_drops_everything_droppable_when_needed_and_then_stops():
    messages = _conversation(4)

    kept = compress(messages, None, 1)

    assert kept == [messages[0], messages[1], messages[-1]]


def test_a_tool_call_and_its_results_are_dropped_together():
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "start"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": WORDS * 3},
        {"role": "assistant", "content": "done"},
        {"role": "user", "content": "latest"},
    ]

    kept = compress(messages, None, count_prompt_tokens(messages) - 10)

    assert all(m.get("role") != "tool" for m in kept)
    assert not any(m.get("tool_calls") for m in kept)
    assert kept[0] == messages[0] and kept[-1] == messages[-1]


# -- through the API, against the fake OpenAI upstream -------------------------------------


@pytest.fixture
def small_model(make_openai_model):
    return make_openai_model(slug="openai/small", upstream_model="small-1", context_length=300)


def _sent(openai_upstream) -> list[dict]:
    return openai_upstream.requests[-1].json["messages"]


@pytest.mark.django_db
def test_the_request_asking_for_middle_out_reaches_the_provider_trimmed_to_fit(
    small_model, make_customer, call_api, openai_upstream
):
    customer = make_customer()
    messages = _conversation(6)
    body = {"model": "openai/small", "messages": messages, "transforms": ["middle-out"], "max_tokens": 50}

    result = call_api(body, customer.secret)

    assert result.status == 200, result.body
    sent = _sent(openai_upstream)
    assert sent[:2] == messages[:2] and sent[-1] == messages[-1] and len(sent) < len(messages)
    assert count_prompt_tokens(sent) <= 300 - 50


def _refused_for_length(result) -> bool:
    return result.status == 400 and result.json()["error"]["code"] == "context_length_exceeded"


@pytest.mark.django_db
def test_without_transforms_an_over_long_prompt_is_refused_and_reaches_no_provider(
    small_model, make_customer, call_api, openai_upstream
):
    customer = make_customer()
    messages = _conversation(6)

    result = call_api({"model": "openai/small", "messages": messages}, customer.secret)

    assert _refused_for_length(result), result.body
    assert openai_upstream.requests == []


@pytest.mark.django_db
def test_the_setting_turns_it_on_for_small_models_unless_the_request_opts_out(
    small_model, make_customer, call_api, openai_upstream, settings
):
    settings.MIDDLE_OUT_DEFAULT_MAX_CONTEXT = 8192
    customer = make_customer()
    messages = _conversation(6)

    trimmed_result = call_api({"model": "openai/small", "messages": messages}, customer.secret)
    trimmed = _sent(openai_upstream)
    opted_out = call_api({"model": "openai/small", "messages": messages, "transforms": []}, customer.secret)
    settings.MIDDLE_OUT_DEFAULT_MAX_CONTEXT = 100  # now the model is not "small"
    not_small = call_api({"model": "openai/small", "messages": messages}, customer.secret)

    assert trimmed_result.status == 200 and len(trimmed) < len(messages)
    assert _refused_for_length(opted_out) and _refused_for_length(not_small)
    assert len(openai_upstream.requests) == 1


@pytest.mark.django_db
def test_an_unknown_transform_is_a_400(make_customer, make_mock_model, call_api):
    make_mock_model()
    customer = make_customer()

    result = call_api(chat(transforms=["middle-in"]), customer.secret)

    assert result.status == 400
    assert result.json()["error"]["param"] == "transforms[0]"
