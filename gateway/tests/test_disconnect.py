"""A client that hangs up mid-stream pays for what was generated, and no more."""

import pytest

from billing.models import Generation
from gateway.pipeline.tokens import tokens_for_chars
from gateway.tests.conftest import chat

pytestmark = pytest.mark.django_db


def test_hanging_up_mid_stream_bills_only_what_was_produced(make_customer, make_mock_model, call_api):
    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="1", output_price="2")
    customer = make_customer()
    before = customer.balance()

    result = call_api(
        chat("mock/lorem", max_tokens=500, stream=True, mock_delay_ms=5), customer.secret, stop_after=4
    )

    produced = result.text
    assert 0 < len(produced) < 500 * 4  # far less than the full answer
    gen = Generation.objects.get()
    assert gen.status == "cancelled"
    assert gen.completion_tokens == tokens_for_chars(len(produced))
    assert gen.cost_nanos == gen.prompt_tokens * 1000 + gen.completion_tokens * 2000
    assert before - customer.balance() == gen.cost_nanos
    assert customer.held() == 0


def test_hanging_up_stops_the_upstream_call(make_customer, make_openai_model, call_api, openai_upstream):
    make_openai_model()
    customer = make_customer()
    openai_upstream.push({"kind": "normal", "text": " ".join(["word"] * 300), "chunk_delay": 0.02})

    result = call_api(chat("openai/gpt-4o-mini", stream=True), customer.secret, stop_after=3)

    gen = Generation.objects.get()
    assert gen.status == "cancelled"
    assert gen.completion_tokens == tokens_for_chars(len(result.text))
    for _ in range(100):
        if openai_upstream.disconnects:
            break
        import time

        time.sleep(0.02)
    assert openai_upstream.disconnects == 1
    assert customer.held() == 0


def test_hanging_up_before_the_first_token_costs_nothing(make_customer, make_mock_model, call_api, settings):
    settings.STREAM_HOLD_STATUS_SECONDS = "0.05"
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    before = customer.balance()

    result = call_api(chat(stream=True, mock_delay_ms=1000), customer.secret, stop_after=0)

    assert result.status == 200 and result.text == ""  # the 200 went out, no token ever did
    gen = Generation.objects.get()
    assert gen.status == "cancelled" and gen.cost_nanos == 0
    assert customer.balance() == before and customer.held() == 0


def test_slow_upstream_gets_keepalives_after_the_status_line(
    make_customer, make_mock_model, call_api, settings
):
    settings.STREAM_HOLD_STATUS_SECONDS = "0.05"
    make_mock_model()
    customer = make_customer()

    result = call_api(chat(text="late answer", stream=True, mock_delay_ms=300), customer.secret)

    assert result.status == 200
    assert "PROMPTGRID PROCESSING" in result.comments
    assert result.text == "late answer"
