"""No request is charged more than its hold, so no balance and no key limit goes below zero.

A prompt too long for the model is refused before any hold, with OpenAI's
``context_length_exceeded`` (and Anthropic's ``invalid_request_error`` on /messages). The
hold's prompt bound is not capped at the context length: a catalog's context length can be
wrong. When a provider reports more than the hold covers anyway, the charge stops at the
hold and the rest is an ``over_hold`` Shortfall that ``audit_ledger`` lists.
"""

from __future__ import annotations

from io import StringIO

import anthropic
import openai
import pytest
from django.core.management import call_command

from billing.audit import ledger_audit
from billing.models import Generation, Hold, Shortfall
from gateway.tests.conftest import chat
from promptgrid.money import usd_to_nanos

pytestmark = pytest.mark.django_db(transaction=True)

# 40 KB of text: about 10,000 tokens by the gateway's estimate, for a model of 1,000.
LONG = "lorem ipsum " * 3_400


@pytest.fixture
def small_context_model(make_mock_model):
    return make_mock_model(input_price="1", output_price="2", context_length=1_000)


@pytest.fixture
def poor(make_customer):
    """$0.005: enough for a short request's hold, not for 10,000 prompt tokens at $1/M."""
    return make_customer(credits_nanos=usd_to_nanos("0.005"))


def test_a_prompt_longer_than_the_context_is_refused_before_any_hold(small_context_model, poor, call_api):
    before = poor.balance()

    result = call_api(chat(text=LONG, max_tokens=1), poor.secret)

    assert result.status == 400
    error = result.json()["error"]
    assert (error["code"], error["type"], error["param"]) == (
        "context_length_exceeded",
        "invalid_request_error",
        "messages",
    )
    assert "maximum context length is 1000 tokens" in error["message"]
    assert not Hold.objects.exists() and not Generation.objects.exists()
    assert poor.balance() == before and poor.balance() >= 0
    assert ledger_audit() == []


def test_the_openai_sdk_sees_context_length_exceeded(small_context_model, poor, live_server_url):
    client = openai.OpenAI(base_url=f"{live_server_url}/api/v1", api_key=poor.secret, max_retries=0)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="mock/echo", messages=[{"role": "user", "content": LONG}], max_tokens=1
        )
    assert raised.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="mock/echo", input=LONG, max_output_tokens=16)
    assert raised.value.code == "context_length_exceeded"
    assert not Hold.objects.exists()


def test_the_anthropic_sdk_sees_an_invalid_request_error(small_context_model, poor, live_server_url):
    client = anthropic.Anthropic(base_url=f"{live_server_url}/api", api_key=poor.secret, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(model="mock/echo", max_tokens=1, messages=[{"role": "user", "content": LONG}])
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert "maximum context length" in raised.value.body["error"]["message"]
    assert not Hold.objects.exists()


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_a_provider_reporting_more_than_the_hold_is_charged_the_hold_and_the_rest_is_a_shortfall(
    make_openai_model, openai_upstream, make_customer, call_api, stream
):
    make_openai_model(input_price="1", output_price="2")  # 1,000 and 2,000 nanos a token
    customer = make_customer(credits_nanos=usd_to_nanos("0.05"), limit_nanos=usd_to_nanos("0.05"))
    # A catalog far off: the provider bills 2.25 million prompt tokens ($2.25) for a short prompt.
    openai_upstream.push({"kind": "normal", "prompt_tokens": 2_250_000})

    result = call_api(chat("openai/gpt-4o-mini", max_tokens=1, stream=stream), customer.secret)

    assert result.status == 200
    hold = Hold.objects.get()
    generation = Generation.objects.get()
    spent = usd_to_nanos("0.05") - customer.balance()
    assert spent == hold.amount_nanos == generation.cost_nanos  # the charge stopped at the hold
    assert customer.balance() >= 0 and customer.held() == 0
    customer.key.refresh_from_db()
    assert customer.key.usage_nanos == spent <= customer.key.limit_nanos
    shortfall = Shortfall.objects.get()
    assert shortfall.kind == Shortfall.Kind.OVER_HOLD
    assert shortfall.generation_id == generation.id
    assert shortfall.amount_nanos == 2_250_000 * 1000 + generation.completion_tokens * 2000 - spent
    assert ledger_audit() == []  # the ledger is whole; the shortfall is listed, not a violation
    out = StringIO()
    call_command("audit_ledger", stdout=out)
    assert f"SHORTFALL over_hold: generation {generation.id}" in out.getvalue()
    assert "OK: no violations." in out.getvalue()
