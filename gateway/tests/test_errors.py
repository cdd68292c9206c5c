"""Every error status the API promises, in OpenAI's error shape."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from billing.models import Generation, Hold
from gateway.tests.conftest import chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(make_customer, make_mock_model):
    make_mock_model(input_price="1", output_price="2")
    return make_customer()


def _error(result, status):
    assert result.status == status, result.body
    error = result.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["message"]
    return error


def test_missing_key_is_401(customer, call_api):
    _error(call_api(chat(), None), 401)


def test_unknown_key_is_401(customer, call_api):
    _error(call_api(chat(), "pg-v1-not-a-real-key"), 401)


def test_revoked_key_is_401(customer, call_api):
    customer.key.revoked_at = timezone.now()
    customer.key.save()
    assert "revoked" in _error(call_api(chat(), customer.secret), 401)["message"]


def test_expired_key_is_401(customer, call_api):
    customer.key.expires_at = timezone.now() - timedelta(seconds=1)
    customer.key.save()
    _error(call_api(chat(), customer.secret), 401)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": 3, "messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "mock/echo"}, "messages"),
        ({"model": "mock/echo", "messages": []}, "messages"),
        ({"model": "mock/echo", "messages": "hi"}, "messages"),
        ({"model": "mock/echo", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": "mock/echo", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (chat(max_tokens="10"), "max_tokens"),
        (chat(max_tokens=0), "max_tokens"),
        (chat(max_completion_tokens=True), "max_completion_tokens"),
        (chat(temperature=3), "temperature"),
        (chat(temperature="hot"), "temperature"),
        (chat(stream="yes"), "stream"),
        (chat(stop=["a", "b", "c", "d", "e"]), "stop"),
        (chat(tools=[{"type": "function"}]), "tools[0].function"),
        (chat(tool_choice="sometimes"), "tool_choice"),
        (
            chat(
                tools=[{"type": "function", "function": {"name": "get_weather"}}],
                tool_choice={"type": "function", "function": {"name": "delete_everything"}},
            ),
            "tool_choice.function.name",
        ),
        (chat(response_format={"type": "xml"}), "response_format.type"),
        (chat(n=0), "n"),
        (
            {
                "model": "mock/echo",
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}
                ],
            },
            "messages[0].content[0].image_url.url",
        ),
        ({"model": "mock/echo", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(customer, call_api, body, param):
    error = _error(call_api(body, customer.secret), 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert Hold.objects.count() == 0


def test_body_that_is_not_json_is_400(customer, call_api):
    _error(call_api(None, customer.secret, raw=b"{nope"), 400)


def test_body_that_is_not_utf8_says_so(customer, call_api):
    # orjson's own wording ("surrogates not allowed") sends the client looking for the wrong bug.
    raw = b'{"model": "mock/echo", "messages": [{"role": "user", "content": "caf\xe9"}]}'
    error = _error(call_api(None, customer.secret, raw=raw), 400)
    assert error["message"] == "Request body is not valid UTF-8."
    assert Hold.objects.count() == 0


def test_unknown_fields_are_ignored(customer, call_api):
    result = call_api(chat(some_future_option={"x": 1}, usage={"include": True}), customer.secret)
    assert result.status == 200


@override_settings(API_MAX_BODY_BYTES=2048)
def test_body_above_the_cap_is_413(customer, call_api):
    error = _error(call_api(chat(text="x" * 4000), customer.secret), 413)
    assert "2048" in error["message"]


def test_insufficient_credits_is_402(make_customer, make_mock_model, call_api):
    make_mock_model(input_price="1", output_price="2")
    poor = make_customer(credits_nanos=10)
    assert _error(call_api(chat(), poor.secret), 402)["code"] == "insufficient_credits"
    assert poor.held() == 0


def test_key_spend_limit_reached_is_402(make_customer, make_mock_model, call_api):
    make_mock_model(input_price="1", output_price="2")
    capped = make_customer(limit_nanos=100)
    error = _error(call_api(chat(max_tokens=10), capped.secret), 402)
    assert error["code"] == "key_limit_reached"


def test_model_not_allowed_for_key_is_403(make_customer, make_mock_model, call_api):
    make_mock_model()
    make_mock_model(slug="mock/lorem", upstream_model="lorem")
    limited = make_customer(allowed_models=["mock/lorem"])
    assert _error(call_api(chat("mock/echo"), limited.secret), 403)["param"] == "model"
    assert call_api(chat("mock/lorem", max_tokens=5), limited.secret).status == 200


def test_management_key_cannot_call_models_403(make_customer, make_mock_model, call_api):
    make_mock_model()
    manager = make_customer(kind="management")
    _error(call_api(chat(), manager.secret), 403)


def test_unknown_model_is_404(customer, call_api):
    assert _error(call_api(chat("nobody/nothing"), customer.secret), 404)["param"] == "model"


def test_disabled_model_is_404(customer, call_api):
    from catalog.models import Model
    from catalog.snapshot import invalidate_local

    Model.objects.filter(slug="mock/echo").update(enabled=False)
    invalidate_local()
    _error(call_api(chat(), customer.secret), 404)


def test_model_without_enabled_provider_is_503(customer, call_api):
    from catalog.models import Provider
    from catalog.snapshot import invalidate_local

    Provider.objects.filter(slug="mock").update(enabled=False)
    invalidate_local()
    _error(call_api(chat(), customer.secret), 503)


def test_key_rpm_limit_is_429_with_retry_after(make_customer, make_mock_model, call_api):
    make_mock_model()
    limited = make_customer(rpm_limit=2)
    ok = call_api(chat(), limited.secret)
    assert ok.status == 200 and ok.headers["x-ratelimit-limit"] == "2"
    assert ok.headers["x-ratelimit-remaining"] == "1"
    assert call_api(chat(), limited.secret).status == 200
    refused = call_api(chat(), limited.secret)
    _error(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert Generation.objects.count() == 2


def test_key_tpm_limit_is_429_once_spent(make_customer, make_mock_model, call_api):
    make_mock_model()
    limited = make_customer(tpm_limit=10)
    assert call_api(chat(text="x" * 40), limited.secret).status == 200  # 13 + 10 tokens
    _error(call_api(chat(), limited.secret), 429)


# -- upstream failures (the fake OpenAI server) ------------------------------------------------


@pytest.fixture
def openai_customer(make_customer, make_openai_model):
    make_openai_model()
    return make_customer()


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_429_is_429_with_retry_after_and_costs_nothing(
    openai_customer, call_api, openai_upstream, stream
):
    openai_upstream.push({"kind": "rate_limit", "retry_after": 7})
    before = openai_customer.balance()

    result = call_api(chat("openai/gpt-4o-mini", stream=stream), openai_customer.secret)

    _error(result, 429)
    assert result.headers["retry-after"] == "7"
    assert openai_customer.balance() == before and openai_customer.held() == 0
    gen = Generation.objects.get(pk=result.headers["x-generation-id"])
    assert gen.status == "error" and gen.cost_nanos == 0 and gen.http_status == 429
    assert len(openai_upstream.requests) == 1  # the SDK's own retries are off


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("kind", ["server_error", "malformed", "auth"])
def test_upstream_failure_is_502_without_credentials(
    openai_customer, call_api, openai_upstream, kind, stream
):
    openai_upstream.push(kind)
    result = call_api(
        chat("openai/gpt-4o-mini", text="one two three four five six", stream=stream), openai_customer.secret
    )
    if stream and kind == "malformed":
        # The stream began: the failure arrives as an error chunk after the 200.
        assert result.status == 200 and result.chunks[-1]["choices"][0]["finish_reason"] == "error"
        return
    error = _error(result, 502)
    assert "sk-test" not in result.body.decode()
    assert error["type"] == "upstream_error"
    assert openai_customer.held() == 0


@override_settings(UPSTREAM_FIRST_BYTE_TIMEOUT="0.3")
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_timeout_is_504(make_customer, make_openai_model, call_api, openai_upstream, stream):
    make_openai_model()
    customer = make_customer()
    openai_upstream.push({"kind": "slow_first_byte", "delay": 2})
    with override_settings(UPSTREAM_IDLE_TIMEOUT="0.3"):
        result = call_api(chat("openai/gpt-4o-mini", stream=stream), customer.secret)
    _error(result, 504)
    assert customer.held() == 0


def test_upstream_connection_refused_is_502(make_customer, call_api):
    from tests.fixtures import create_model

    create_model(
        slug="openai/gone",
        provider_slug="gone",
        protocol="openai",
        upstream_model="x",
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-x",
    )
    customer = make_customer()
    _error(call_api(chat("openai/gone"), customer.secret), 502)
    assert customer.held() == 0


def test_error_mid_stream_is_an_error_chunk_then_done_and_bills_what_was_produced(
    openai_customer, call_api, openai_upstream
):
    openai_upstream.push("error_mid_stream")
    before = openai_customer.balance()

    result = call_api(
        chat("openai/gpt-4o-mini", text="one two three four five six", stream=True), openai_customer.secret
    )

    assert result.status == 200
    assert result.events[-1] == "[DONE]"
    last = result.chunks[-1]
    assert last["error"]["message"] and last["choices"][0]["finish_reason"] == "error"
    assert result.text == "one two three four five six"
    gen = Generation.objects.get(pk=last["id"])
    assert gen.status == "error" and gen.completion_tokens == 7  # the 27 characters produced, counted
    assert before - openai_customer.balance() == gen.cost_nanos > 0


def test_connection_dropped_mid_stream_ends_with_an_error_chunk(openai_customer, call_api, openai_upstream):
    openai_upstream.push("drop")
    result = call_api(
        chat("openai/gpt-4o-mini", text="one two three four five six", stream=True), openai_customer.secret
    )
    assert result.chunks[-1]["choices"][0]["finish_reason"] == "error"
    assert result.events[-1] == "[DONE]"
    assert openai_customer.held() == 0


@override_settings(UPSTREAM_IDLE_TIMEOUT="0.3")
def test_stalled_stream_times_out_with_an_error_chunk(openai_customer, call_api, openai_upstream):
    openai_upstream.push({"kind": "stall", "delay": 5})
    result = call_api(
        chat("openai/gpt-4o-mini", text="one two three four five six", stream=True), openai_customer.secret
    )
    last = result.chunks[-1]
    assert last["choices"][0]["finish_reason"] == "error" and last["error"]["code"] == 504
    assert openai_customer.held() == 0
