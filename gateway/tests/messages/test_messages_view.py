"""/api/v1/messages through the Django view (the test client): hanging up mid-stream, money."""

import pytest

from billing.models import Generation
from gateway.pipeline.tokens import tokens_for_chars

pytestmark = pytest.mark.django_db


def _body(model: str, **fields):
    return {"model": model, "max_tokens": 500, "messages": [{"role": "user", "content": "Go on"}], **fields}


def _text(events) -> str:
    return "".join(
        e["delta"].get("text", "")
        for e in events
        if isinstance(e, dict) and e.get("type") == "content_block_delta"
    )


def test_hanging_up_mid_stream_bills_only_what_was_produced(make_customer, make_mock_model, call_api):
    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="1", output_price="2")
    customer = make_customer()
    before = customer.balance()

    result = call_api(
        _body("mock/lorem", stream=True, mock_delay_ms=5),
        None,
        path="/api/v1/messages",
        extra={"x-api-key": customer.secret},
        stop_after=6,
    )

    produced = _text(result.events)
    assert result.status == 200 and result.events[0]["type"] == "message_start"
    assert 0 < len(produced) < 500 * 4
    gen = Generation.objects.get()
    assert gen.status == "cancelled" and gen.api == "messages"
    assert gen.completion_tokens == tokens_for_chars(len(produced))
    assert gen.cost_nanos == gen.prompt_tokens * 1000 + gen.completion_tokens * 2000
    assert before - customer.balance() == gen.cost_nanos
    assert customer.held() == 0


def test_the_view_answers_a_whole_message_and_refuses_bad_input_without_charge(
    make_customer, make_mock_model, call_api
):
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    headers = {"x-api-key": customer.secret}

    answered = call_api(_body("mock/echo"), None, path="/api/v1/messages", extra=headers)
    assert answered.status == 200 and answered.json()["content"][0]["text"] == "Go on"

    before = customer.balance()
    bad = call_api(
        _body("mock/echo", messages=[{"role": "robot", "content": "x"}]),
        None,
        path="/api/v1/messages",
        extra=headers,
    )
    assert bad.status == 400
    assert bad.json()["error"] == {"type": "invalid_request_error", "message": bad.json()["error"]["message"]}
    assert "messages.0.role" in bad.json()["error"]["message"]
    assert customer.balance() == before and customer.held() == 0
