"""What an empty answer costs: OpenRouter's zero-completion insurance.

No charge only when there are no output tokens *and* the finish reason is blank or an
error. A normal stop with 0 tokens pays for its prompt, and so does a stream cancelled after
the provider reported (and billed) its prompt tokens. ``ZERO_COMPLETION_INSURANCE=false``
charges whatever the provider reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from billing.audit import ledger_audit
from billing.models import Generation
from catalog.snapshot import get_snapshot
from gateway.pipeline import settlement
from gateway.providers.base import Usage
from gateway.tests.conftest import chat
from tests.fakes.anthropic_server import anthropic_fake
from tests.fixtures import create_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def anthropic_upstream() -> Iterator[Any]:
    with anthropic_fake() as fake:
        yield fake


def test_a_normal_stop_with_no_output_pays_for_its_prompt(
    make_openai_model, openai_upstream, make_customer, call_api
):
    make_openai_model(input_price="1", output_price="2")
    customer = make_customer()
    before = customer.balance()
    openai_upstream.push({"kind": "normal", "text": ""})  # finish_reason "stop", 0 tokens

    result = call_api(chat("openai/gpt-4o-mini", text="x" * 120_000), customer.secret)

    assert result.status == 200
    usage = result.json()["usage"]
    assert usage["completion_tokens"] == 0 and usage["prompt_tokens"] > 30_000
    generation = Generation.objects.get()
    assert generation.finish_reason == "stop"
    assert generation.cost_nanos == usage["prompt_tokens"] * 1000
    assert before - customer.balance() == generation.cost_nanos
    assert usage["cost"] == generation.cost_nanos / 1e9
    assert ledger_audit() == []


def test_a_stream_cancelled_after_the_provider_reported_its_prompt_pays_for_the_prompt(
    anthropic_upstream, make_customer, call_api
):
    create_model(
        slug="anthropic/claude-x",
        provider_slug="anthropic",
        protocol="anthropic",
        upstream_model="claude-x",
        base_url=anthropic_upstream.url,
        api_key="sk-ant-fake-key-1234",
        input_price="3",
        output_price="15",
    )
    customer = make_customer()
    before = customer.balance()
    # message_start reports the 30,000 prompt tokens, then the stream goes quiet.
    anthropic_upstream.push({"kind": "stall", "seconds": 2, "input_tokens": 30_000})

    prompt = "x" * 120_000  # ~30,000 tokens; the hold's bound covers them
    result = call_api(chat("anthropic/claude-x", text=prompt, stream=True), customer.secret, stop_after=1)

    assert result.status == 200 and result.text == ""  # no token ever reached the client
    generation = Generation.objects.get()
    assert generation.status == "cancelled"
    assert generation.prompt_tokens == 30_000
    assert generation.cost_nanos == 30_000 * 3000 + generation.completion_tokens * 15_000
    assert before - customer.balance() == generation.cost_nanos
    assert customer.held() == 0
    assert ledger_audit() == []


def test_a_stream_cancelled_before_the_provider_reported_anything_costs_nothing(
    make_openai_model, openai_upstream, make_customer, call_api
):
    make_openai_model(input_price="1", output_price="2")
    customer = make_customer()
    before = customer.balance()
    openai_upstream.push({"kind": "normal", "text": "word " * 200, "chunk_delay": 0.5})

    call_api(chat("openai/gpt-4o-mini", stream=True), customer.secret, stop_after=1)

    generation = Generation.objects.get()
    assert generation.status == "cancelled" and generation.cost_nanos == 0
    assert customer.balance() == before and customer.held() == 0


def _outcome(finish_reason: str, usage: Usage, **fields: Any) -> settlement.Outcome:
    endpoint = get_snapshot().models["mock/echo"].endpoints[0]
    return settlement.Outcome(
        generation_id="gen-x",
        user_id=1,
        api_key_id=None,
        endpoint=endpoint,
        model_id=None,
        hold_id=1,
        streamed=False,
        created_at=timezone.now(),
        usage=usage,
        finish_reason=finish_reason,
        **fields,
    )


PROMPT_ONLY = Usage(prompt_tokens=1_000)


@pytest.mark.parametrize(
    ("finish_reason", "fields", "insured", "uninsured"),
    [
        ("stop", {}, 1_000_000, 1_000_000),
        ("length", {}, 1_000_000, 1_000_000),
        ("content_filter", {}, 1_000_000, 1_000_000),
        ("", {}, 0, 1_000_000),
        ("error", {"produced_output": False, "usage_reported": True}, 0, 1_000_000),
        ("cancelled", {"produced_output": False, "usage_reported": True}, 1_000_000, 1_000_000),
        # The gateway's own count of a request that answered nothing is no bill, either way.
        ("cancelled", {"produced_output": False}, 0, 0),
        ("error", {"produced_output": False}, 0, 0),
    ],
)
def test_zero_completion_insurance_by_finish_reason_and_its_setting(
    make_mock_model, settings, finish_reason, fields, insured, uninsured
):
    make_mock_model(input_price="1", output_price="2")
    settings.ZERO_COMPLETION_INSURANCE = True
    assert settlement.cost_of(_outcome(finish_reason, PROMPT_ONLY, **fields)) == insured
    settings.ZERO_COMPLETION_INSURANCE = False
    assert settlement.cost_of(_outcome(finish_reason, PROMPT_ONLY, **fields)) == uninsured


def test_output_is_charged_whatever_the_finish_reason(make_mock_model, settings):
    make_mock_model(input_price="1", output_price="2")
    usage = Usage(prompt_tokens=1_000, completion_tokens=10)
    for reason in ("", "error", "stop"):
        assert settlement.cost_of(_outcome(reason, usage)) == 1_000_000 + 20_000


def test_a_gemini_stream_cancelled_after_its_prompt_was_reported_pays_for_the_prompt(
    make_customer, call_api, monkeypatch
):
    from tests.fakes.gemini_server import gemini_fake

    for name in ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with gemini_fake() as gemini:
        create_model(
            slug="google/gemini-x",
            provider_slug="google",
            protocol="google",
            upstream_model="gemini-x",
            base_url=gemini.url,
            api_key="fake-gemini-key-1234",
            input_price="1",
            output_price="4",
        )
        customer = make_customer()
        before = customer.balance()
        gemini.push({"kind": "stall", "seconds": 2, "early_prompt_tokens": 20_000})

        prompt = "x" * 80_000
        call_api(chat("google/gemini-x", text=prompt, stream=True), customer.secret, stop_after=1)

    generation = Generation.objects.get()
    assert generation.status == "cancelled" and generation.prompt_tokens == 20_000
    assert generation.cost_nanos == 20_000 * 1000 + generation.completion_tokens * 4000
    assert before - customer.balance() == generation.cost_nanos and customer.held() == 0
    assert ledger_audit() == []
