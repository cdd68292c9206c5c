"""POST /api/v1/chat/completions for Anthropic and Gemini models served by the fakes:
the answer, the stream, the charge, and provider errors as the client sees them."""

from __future__ import annotations

import pytest

from billing.models import Generation
from gateway.tests.conftest import chat
from tests.fixtures import ANTHROPIC_PRICES, GEMINI_PRICES, create_model

pytestmark = pytest.mark.django_db

# Both usage scripts cost 1_134_000 nanos (Anthropic) and 591_250 nanos (Gemini) at the
# fixtures' prices; see test_anthropic.py and test_google.py for the arithmetic.
PROVIDERS = {
    "anthropic": ("anthropic/claude-test", 1_134_000, (150, 50, 30, 20)),
    "google": ("google/gemini-test", 591_250, (100, 50, 30, 20)),
}


@pytest.fixture
def served(request, anthropic_upstream, gemini_upstream, make_customer):
    """(protocol, fake, customer) with a model of that protocol served by its fake."""
    protocol = request.param
    if protocol == "anthropic":
        fake = anthropic_upstream
        create_model(
            slug="anthropic/claude-test",
            provider_slug="anthropic",
            protocol="anthropic",
            upstream_model="claude-test",
            base_url=fake.url,
            api_key="sk-ant-fake-key-1234",
            **ANTHROPIC_PRICES,
        )
    else:
        fake = gemini_upstream
        create_model(
            slug="google/gemini-test",
            provider_slug="google",
            protocol="google",
            upstream_model="gemini-test",
            base_url=fake.url,
            api_key="gm-fake-key-1234",
            **GEMINI_PRICES,
        )
    return protocol, fake, make_customer()


both = pytest.mark.parametrize("served", ["anthropic", "google"], indirect=True)


@both
def test_a_chat_is_answered_and_charged_what_the_provider_reported(served, call_api):
    protocol, fake, customer = served
    slug, cost, (prompt, completion, cached, reasoning) = PROVIDERS[protocol]
    fake.push("usage")
    before = customer.balance()

    result = call_api(chat(slug, text="think hard"), customer.secret)

    assert result.status == 200, result.body
    body = result.json()
    assert body["choices"][0]["message"]["content"] == "Done thinking."
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (prompt, completion)
    assert usage["prompt_tokens_details"]["cached_tokens"] == cached
    assert usage["completion_tokens_details"]["reasoning_tokens"] == reasoning
    assert before - customer.balance() == cost
    assert customer.held() == 0
    assert Generation.objects.get().cost_nanos == cost


@both
def test_a_streamed_chat_is_relayed_and_charged(served, call_api):
    protocol, fake, customer = served
    slug, cost, (prompt, completion, _cached, _reasoning) = PROVIDERS[protocol]
    fake.push("usage")
    before = customer.balance()

    result = call_api(chat(slug, text="think hard", stream=True), customer.secret)

    assert result.status == 200
    assert result.text == "Done thinking."
    assert result.events[-1] == "[DONE]"
    usage = result.chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (prompt, completion)
    assert before - customer.balance() == cost
    assert customer.held() == 0


@both
@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_reaches_the_client_in_openai_shape(served, call_api, stream):
    protocol, fake, customer = served
    slug = PROVIDERS[protocol][0]
    fake.push("tool")
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}

    result = call_api(chat(slug, text="Weather?", tools=[tool], stream=stream), customer.secret)

    assert result.status == 200
    if stream:
        calls = [c for e in result.chunks for ch in e["choices"] for c in ch["delta"].get("tool_calls") or []]
        arguments = "".join(c["function"].get("arguments") or "" for c in calls)
        finish = [ch["finish_reason"] for e in result.chunks for ch in e["choices"] if ch["finish_reason"]]
    else:
        calls = result.json()["choices"][0]["message"]["tool_calls"]
        arguments = calls[0]["function"]["arguments"]
        finish = [result.json()["choices"][0]["finish_reason"]]
    assert calls[0]["function"]["name"] == "get_weather"
    assert arguments.replace(" ", "") == '{"city":"Paris"}'
    assert finish == ["tool_calls"]


@both
def test_a_provider_rate_limit_reaches_the_client_as_429_with_retry_after(served, call_api):
    protocol, fake, customer = served
    fake.push("rate_limit")
    before = customer.balance()

    result = call_api(chat(PROVIDERS[protocol][0]), customer.secret)

    assert result.status == 429
    assert result.headers["retry-after"] == "7"
    assert result.json()["error"]["message"]
    assert customer.balance() == before and customer.held() == 0


@both
def test_an_overloaded_provider_is_a_503_and_an_invalid_request_a_400(served, call_api):
    protocol, fake, customer = served
    fake.push("overloaded", "invalid")

    overloaded = call_api(chat(PROVIDERS[protocol][0]), customer.secret)
    invalid = call_api(chat(PROVIDERS[protocol][0]), customer.secret)

    assert overloaded.status == 503
    assert invalid.status == 400


@both
def test_a_mid_stream_provider_error_ends_the_stream_with_an_error_chunk(served, call_api):
    protocol, fake, customer = served
    fake.push("error_event")

    result = call_api(chat(PROVIDERS[protocol][0], stream=True), customer.secret)

    assert result.status == 200
    errors = [e["error"] for e in result.chunks if "error" in e]
    assert errors and errors[0]["code"] == 503
    assert customer.held() == 0


@pytest.mark.parametrize("served", ["anthropic"], indirect=True)
def test_openrouter_extensions_reach_the_adapter_through_the_api(served, call_api):
    """top_k and reasoning are forwarded; with provider.require_parameters, a value the provider
    cannot honour is a 400 naming it instead of being dropped silently."""
    _, fake, customer = served
    fake.push("normal")
    ok = call_api(chat("anthropic/claude-test", top_k=5, max_tokens=64), customer.secret)
    assert ok.status == 200, ok.body
    assert fake.requests[-1].json["top_k"] == 5

    refused = call_api(
        chat(
            "anthropic/claude-test",
            max_tokens=4096,
            temperature=0.2,
            reasoning={"effort": "high"},
            provider={"require_parameters": True},
        ),
        customer.secret,
    )
    assert refused.status == 400, refused.body
    assert refused.json()["error"]["param"] == "temperature"
    assert customer.held() == 0


def test_openrouter_extensions_have_their_types_checked(make_customer, call_api):
    customer = make_customer()
    for field, value in (("top_k", "five"), ("reasoning", "high"), ("provider", ["order"])):
        result = call_api(chat(**{field: value}), customer.secret)
        assert result.status == 400, (field, result.body)
        assert result.json()["error"]["param"] == field
