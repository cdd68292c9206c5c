"""Responses, chunks and errors validate against the schemas in OpenAI's OpenAPI spec."""

import pytest

from gateway.tests.conftest import chat
from gateway.tests.spec import assert_chunk, assert_completion, assert_error, assert_valid

pytestmark = pytest.mark.django_db

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@pytest.fixture
def customer(make_customer, make_mock_model, make_openai_model):
    make_mock_model(input_price="1", output_price="2")
    make_openai_model()
    return make_customer()


def test_the_schema_check_can_fail():
    with pytest.raises(AssertionError):
        assert_completion({"id": "x", "object": "chat.completion", "choices": [{"index": "zero"}]})


@pytest.mark.parametrize("model", ["mock/echo", "openai/gpt-4o-mini"])
@pytest.mark.parametrize("tools", [False, True])
def test_completions_match_the_spec(customer, call_api, openai_upstream, model, tools):
    fields = {"tools": [TOOL], "tool_choice": "required"} if tools else {}
    if tools:
        openai_upstream.push("tools")
    result = call_api(chat(model, text='call get_weather {"city": "Oslo"}', **fields), customer.secret)
    assert result.status == 200
    body = result.json()
    assert_completion(body)
    assert_valid("CompletionUsage", body["usage"])
    if tools:
        assert body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize("model", ["mock/echo", "openai/gpt-4o-mini"])
@pytest.mark.parametrize("tools", [False, True])
def test_stream_chunks_match_the_spec(customer, call_api, openai_upstream, model, tools):
    fields = {"tools": [TOOL], "tool_choice": "required"} if tools else {}
    if tools:
        openai_upstream.push("tools")
    result = call_api(
        chat(model, text='call get_weather {"city": "Oslo"}', stream=True, **fields), customer.secret
    )
    assert result.status == 200
    assert len(result.chunks) >= 3
    for chunk in result.chunks:
        assert_chunk(chunk)


def test_errors_match_the_spec(customer, call_api):
    assert_error(call_api(chat("nobody/nothing"), customer.secret).json())
    assert_error(call_api(chat(), None).json())
    assert_error(call_api(chat(temperature="x"), customer.secret).json())
