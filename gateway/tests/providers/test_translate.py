"""Reading OpenAI content and carrying Gemini's thought signatures in tool call ids."""

from __future__ import annotations

import pytest

from gateway.providers.base import UpstreamError
from gateway.providers.translate import arguments_object, join_call_id, parse_data_url, split_call_id


def test_a_signature_survives_the_round_trip_through_a_tool_call_id():
    signature = bytes(range(256))
    call_id = join_call_id("call_abc", signature)
    assert call_id.startswith("call_abc__ts_")
    assert all(ch.isalnum() or ch in "_-" for ch in call_id)
    assert split_call_id(call_id) == ("call_abc", signature)
    assert split_call_id("call_plain") == ("call_plain", None)
    assert join_call_id("call_abc", None) == "call_abc"


def test_data_urls_are_parsed_and_bad_base64_refused():
    assert parse_data_url("data:image/webp;base64,UklGRg==") == ("image/webp", "UklGRg==")
    assert parse_data_url("https://example.com/a.png") is None
    with pytest.raises(UpstreamError):
        parse_data_url("data:image/png;base64,not*base64")
    with pytest.raises(UpstreamError):
        parse_data_url("data:image/png,rawbytes")


def test_tool_arguments_that_are_not_an_object_are_kept_under_a_key():
    assert arguments_object('{"a": 1}') == {"a": 1}
    assert arguments_object("") == {}
    assert arguments_object("[1, 2]") == {"arguments": [1, 2]}
    assert arguments_object("{broken") == {"arguments": "{broken"}
