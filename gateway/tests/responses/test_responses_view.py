"""/api/v1/responses through the Django view (the test client): hanging up mid-stream, money."""

import pytest

from billing.models import Generation
from gateway.pipeline.tokens import tokens_for_chars

pytestmark = pytest.mark.django_db


def _text(events) -> str:
    return "".join(
        e["delta"] for e in events if isinstance(e, dict) and e.get("type") == "response.output_text.delta"
    )


def test_hanging_up_mid_stream_bills_only_what_was_produced(make_customer, make_mock_model, call_api):
    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="1", output_price="2")
    customer = make_customer()
    before = customer.balance()
    body = {"model": "mock/lorem", "input": "Go on", "max_output_tokens": 500, "stream": True}

    result = call_api({**body, "mock_delay_ms": 5}, customer.secret, path="/api/v1/responses", stop_after=8)

    produced = _text(result.events)
    assert result.status == 200 and result.events[0]["type"] == "response.created"
    assert 0 < len(produced) < 500 * 4
    gen = Generation.objects.get()
    assert gen.status == "cancelled" and gen.api == "responses"
    assert gen.completion_tokens == tokens_for_chars(len(produced))
    assert gen.cost_nanos == gen.prompt_tokens * 1000 + gen.completion_tokens * 2000
    assert before - customer.balance() == gen.cost_nanos
    assert customer.held() == 0


def test_the_view_answers_and_refuses_bad_input_in_openais_shape_without_charge(
    make_customer, make_mock_model, call_api
):
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()

    answered = call_api(
        {"model": "mock/echo", "input": "Hi there"}, customer.secret, path="/api/v1/responses"
    )
    assert answered.status == 200 and answered.json()["output"][0]["content"][0]["text"] == "Hi there"

    before = customer.balance()
    bad = call_api(
        {"model": "mock/echo", "input": [{"role": "robot", "content": "x"}]},
        customer.secret,
        path="/api/v1/responses",
    )
    assert bad.status == 400 and bad.json()["error"]["param"] == "input.0.role"
    assert bad.json()["error"]["type"] == "invalid_request_error"
    stored = call_api(None, customer.secret, path="/api/v1/responses/gen-1", method="get")
    assert stored.status == 400 and stored.json()["error"]["code"] == "responses_not_stored"
    assert customer.balance() == before and customer.held() == 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_warm_request_makes_two_database_calls_hold_and_settle(
    make_customer, make_mock_model, call_api, monkeypatch, settings, stream
):
    from gateway.pipeline import auth, holds, settlement
    from gateway.routing import routes

    settings.AUTH_CACHE_SECONDS = settings.CATALOG_CACHE_SECONDS = 60  # warm stays warm on a slow machine
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    body = {"model": "mock/echo", "input": "Hi there", "stream": stream}
    assert call_api(body, customer.secret, path="/api/v1/responses").status == 200  # warms the caches
    hops: list[str] = []

    def counting(module):
        real = module.db_call

        async def db_call(fn, *args, **kwargs):
            hops.append(f"{module.__name__}.{fn.__name__}")
            return await real(fn, *args, **kwargs)

        return db_call

    for module in (auth, routes, holds, settlement):
        monkeypatch.setattr(module, "db_call", counting(module))

    assert call_api(body, customer.secret, path="/api/v1/responses").status == 200

    assert len(hops) == 2, hops
    assert [hop.split(".")[2] for hop in hops] == ["holds", "settlement"]
