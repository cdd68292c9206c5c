"""The balance-aware max_tokens rule at its edges.

Prices: $1/M input (1000 nanos a token), $2/M output (2000 nanos a token). The hold's
prompt bound for ``[{"role":"user","content":"hi"}]`` is its UTF-8 size, 32 bytes.
"""

import pytest

from gateway.pipeline.holds import MIN_COMPLETION_TOKENS, prompt_token_bound

pytestmark = pytest.mark.django_db

MESSAGES = [{"role": "user", "content": "hi"}]
PROMPT = 32
IN, OUT = 1000, 2000


@pytest.fixture
def model(make_openai_model):
    return make_openai_model(input_price="1", output_price="2", max_output_tokens=4096)


def _ask(call_api, customer, **fields):
    return call_api({"model": "openai/gpt-4o-mini", "messages": MESSAGES, **fields}, customer.secret)


def test_prompt_bound_is_the_utf8_size():
    assert prompt_token_bound(MESSAGES, None) == PROMPT
    assert prompt_token_bound([{"role": "user", "content": "é"}], None) == 32  # two bytes for one character


def test_client_max_tokens_exactly_affordable_is_served(model, make_customer, call_api, openai_upstream):
    customer = make_customer(credits_nanos=PROMPT * IN + 100 * OUT)
    result = _ask(call_api, customer, max_tokens=100)
    assert result.status == 200
    assert openai_upstream.requests[-1].json["max_tokens"] == 100
    assert customer.balance() >= 0 and customer.held() == 0


def test_client_max_tokens_one_nano_short_is_402_saying_so(model, make_customer, call_api, openai_upstream):
    customer = make_customer(credits_nanos=PROMPT * IN + 100 * OUT - 1)
    result = _ask(call_api, customer, max_tokens=100)
    assert result.status == 402
    message = result.json()["error"]["message"]
    assert "requested up to 100 tokens" in message and "afford 99" in message
    assert openai_upstream.requests == [] and customer.held() == 0


def test_max_completion_tokens_is_held_like_max_tokens(model, make_customer, call_api, openai_upstream):
    customer = make_customer(credits_nanos=PROMPT * IN + 100 * OUT - 1)
    assert _ask(call_api, customer, max_completion_tokens=100).status == 402
    assert _ask(call_api, customer, max_completion_tokens=99).status == 200
    assert openai_upstream.requests[-1].json["max_tokens"] == 99
    assert "max_completion_tokens" not in openai_upstream.requests[-1].json


def test_without_max_tokens_a_short_balance_caps_the_output(model, make_customer, call_api, openai_upstream):
    customer = make_customer(credits_nanos=PROMPT * IN + 100 * OUT - 1)
    result = _ask(call_api, customer)
    assert result.status == 200
    assert openai_upstream.requests[-1].json["max_tokens"] == 99


def test_without_max_tokens_a_full_balance_gets_the_model_maximum(
    model, make_customer, call_api, openai_upstream
):
    customer = make_customer(credits_nanos=PROMPT * IN + 4096 * OUT)
    assert _ask(call_api, customer).status == 200
    assert openai_upstream.requests[-1].json["max_tokens"] == 4096


def test_without_max_tokens_the_shortest_answer_is_the_floor(model, make_customer, call_api, openai_upstream):
    floor = PROMPT * IN + MIN_COMPLETION_TOKENS * OUT
    enough = make_customer(credits_nanos=floor)
    assert _ask(call_api, enough).status == 200
    assert openai_upstream.requests[-1].json["max_tokens"] == MIN_COMPLETION_TOKENS

    short = make_customer(credits_nanos=floor - 1)
    result = _ask(call_api, short)
    assert result.status == 402 and result.json()["error"]["code"] == "insufficient_credits"


def test_key_spend_limit_caps_the_output_like_the_balance(model, make_customer, call_api, openai_upstream):
    customer = make_customer(credits_nanos=10**12, limit_nanos=PROMPT * IN + 50 * OUT)
    assert _ask(call_api, customer).status == 200
    assert openai_upstream.requests[-1].json["max_tokens"] == 50
    refused = _ask(call_api, customer, max_tokens=4000)
    assert refused.status == 402 and "spend limit" in refused.json()["error"]["message"]


def test_the_charge_never_exceeds_the_hold(model, make_customer, call_api, openai_upstream):
    customer = make_customer(credits_nanos=PROMPT * IN + 16 * OUT)
    openai_upstream.push({"kind": "normal", "text": "x" * 64})  # exactly 16 tokens back
    result = _ask(call_api, customer)
    assert result.status == 200
    assert 0 <= customer.balance()
