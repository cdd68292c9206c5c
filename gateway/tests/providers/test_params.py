"""Which parameters count as set, and how reasoning requests are read."""

from __future__ import annotations

import pytest

from gateway.providers.base import UpstreamError
from gateway.providers.params import enforce_supported, reasoning_request


def test_parameters_at_their_neutral_values_are_not_dropped_or_refused():
    request = {
        "messages": [],
        "n": 1,
        "logprobs": False,
        "frequency_penalty": 0,
        "parallel_tool_calls": True,
        "response_format": {"type": "text"},
        "seed": None,
        "provider": {"require_parameters": True},
    }
    assert enforce_supported(request, supported=(), provider="P") == []


def test_unsupported_parameters_are_dropped_by_default_and_reported():
    request = {"messages": [], "seed": 1, "logit_bias": {"42": 1}, "temperature": 0.5}
    assert enforce_supported(request, supported={"temperature"}, provider="P") == ["logit_bias", "seed"]


def test_n_above_one_is_refused_even_without_require_parameters():
    with pytest.raises(UpstreamError, match="more than one choice"):
        enforce_supported({"n": 3}, supported=(), provider="P")


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({}, (None, None, False)),
        ({"reasoning_effort": "low"}, ("low", None, False)),
        ({"reasoning": {"effort": "high", "exclude": True}}, ("high", None, True)),
        ({"reasoning": {"max_tokens": 3000}}, (None, 3000, False)),
        ({"reasoning": {"enabled": True}}, ("medium", None, False)),
        ({"reasoning_effort": "high", "reasoning": {"enabled": False}}, ("none", None, False)),
    ],
)
def test_reasoning_request_reads_openai_and_openrouter_forms(request_fields, expected):
    assert reasoning_request(request_fields) == expected
