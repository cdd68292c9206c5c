"""The Responses surface's request translation and the Responses upstream wire, without a server."""

from __future__ import annotations

import orjson
import pytest

from catalog.targets import Target
from gateway.providers import openai_responses as wire
from gateway.surfaces.chat.request import InvalidRequest
from gateway.surfaces.responses.reasoning import seal
from gateway.surfaces.responses.request import translate

SIGNED = {"type": "reasoning.text", "text": "Hmm.", "signature": "sig-1", "format": "anthropic-claude-v1"}


def test_output_items_of_one_turn_fold_into_one_assistant_message():
    chat = translate(
        {
            "model": "m",
            "instructions": "Be brief.",
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "client_metadata": {"anything": "ignored"},
            "input": [
                {"role": "user", "content": "Weather?"},
                {"type": "reasoning", "summary": [], "encrypted_content": seal(SIGNED)},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Checking."}],
                },
                {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "Sunny"},
            ],
        }
    )

    system, user, assistant, tool = chat.messages
    assert system == {"role": "system", "content": "Be brief."}
    assert user == {"role": "user", "content": "Weather?"}
    assert assistant["content"] == [{"type": "text", "text": "Checking."}]
    assert assistant["reasoning_details"] == [SIGNED]
    assert assistant["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": "{}"}
    assert tool == {"role": "tool", "tool_call_id": "c1", "content": "Sunny"}


def test_reasoning_another_server_encrypted_is_not_sent_to_the_model():
    chat = translate(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "x"},
                {
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "t"}],
                    "encrypted_content": "gAAA",
                },
                {"role": "assistant", "content": "y"},
            ],
        }
    )
    assert "reasoning_details" not in chat.messages[1]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input.0.content.0.type"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input.0"),
        ({"input": "x", "tools": [{"type": "custom", "name": "patch"}]}, "tools.0.type"),
        ({"input": "x", "text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"input": "x", "reasoning": {"effort": "maximal"}}, "reasoning.effort"),
        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input.0.content.0.image_url",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_parameter_as_sent(body, param):
    with pytest.raises(InvalidRequest) as refused:
        translate({"model": "m", **body})
    assert refused.value.param == param


TARGET = Target(1, "openai/gpt-5", "openai", "OpenAI", "openai", "http://fake/v1", "k", "gpt-5", 1000)


def test_the_responses_wire_sends_the_conversation_as_items_and_reads_them_back():
    detail = {
        "type": "reasoning.encrypted",
        "data": "enc-1",
        "id": "rs_1",
        "summary": "S",
        "format": wire.FORMAT,
    }
    request = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_details": [detail],
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "Sunny"},
        ],
        "max_tokens": 99,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": {"type": "object"}},
        },
        "reasoning_effort": "low",
    }

    body = orjson.loads(wire.build_body(request, TARGET, stream=False))

    assert body["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "S"}],
            "encrypted_content": "enc-1",
            "id": "rs_1",
        },
        {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "Sunny"},
    ]
    assert body["max_output_tokens"] == 99 and body["store"] is False
    assert body["text"] == {"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}}
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}

    cut = wire.completion_from(
        {
            "id": "resp_1",
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [{"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "enc-2"}],
            "usage": {
                "input_tokens": 5,
                "output_tokens": 99,
                "output_tokens_details": {"reasoning_tokens": 99},
            },
        }
    )
    assert cut.choices[0]["finish_reason"] == "length" and cut.native_finish_reason == "max_output_tokens"
    assert cut.choices[0]["message"]["reasoning_details"][0]["data"] == "enc-2"
    assert cut.usage.reasoning_tokens == 99 and cut.usage.prompt_tokens == 5
