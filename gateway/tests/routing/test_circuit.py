"""A circuit breaker per endpoint: opens after repeated failures, half-opens after a cool-down."""

import time

import pytest

from billing.models import Generation
from gateway.routing import circuit
from gateway.tests.conftest import chat

pytestmark = pytest.mark.django_db

COOLDOWN = 5.0


def _providers(result) -> list[str]:
    gen = Generation.objects.get(pk=result.headers["x-generation-id"])
    return [a["provider"] for a in gen.attempts]


@pytest.fixture
def breaker(settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    # Long enough that the requests made while it is open finish inside it, even on a busy machine.
    settings.CIRCUIT_COOLDOWN_SECONDS = str(COOLDOWN)


def test_an_endpoint_that_keeps_failing_is_skipped_then_probed_and_closed(served, call_api, breaker):
    served.alpha.push("server_error", "server_error")
    for _ in range(2):
        assert _providers(call_api(chat("acme/chat"), served.customer.secret)) == ["alpha", "beta"]

    skipped = call_api(chat("acme/chat"), served.customer.secret)

    assert skipped.status == 200 and _providers(skipped) == ["beta"]
    assert len(served.alpha.requests) == 2  # open: not called

    time.sleep(COOLDOWN + 0.1)
    probe = call_api(chat("acme/chat"), served.customer.secret)
    assert _providers(probe) == ["alpha"]  # half-open: the probe succeeded
    again = call_api(chat("acme/chat"), served.customer.secret)
    assert _providers(again) == ["alpha"]  # closed


def test_a_failed_probe_opens_the_circuit_again_at_once(served, call_api, breaker):
    served.alpha.push("server_error", "server_error", "server_error")
    for _ in range(2):
        call_api(chat("acme/chat"), served.customer.secret)
    time.sleep(COOLDOWN + 0.1)

    assert _providers(call_api(chat("acme/chat"), served.customer.secret)) == ["alpha", "beta"]
    assert _providers(call_api(chat("acme/chat"), served.customer.secret)) == ["beta"]


def test_a_success_between_failures_keeps_the_circuit_closed(served, call_api, breaker):
    served.alpha.push("server_error", "normal", "server_error")
    for _ in range(3):
        call_api(chat("acme/chat"), served.customer.secret)

    assert _providers(call_api(chat("acme/chat"), served.customer.secret)) == ["alpha"]


def test_when_every_candidates_circuit_is_open_the_request_is_refused_at_once(served, call_api, breaker):
    served.alpha.default = "server_error"
    served.beta.default = "server_error"
    for _ in range(2):
        call_api(chat("acme/chat"), served.customer.secret)
    served.alpha.default = served.beta.default = "normal"
    calls = len(served.alpha.requests) + len(served.beta.requests)

    result = call_api(chat("acme/chat"), served.customer.secret)

    assert result.status == 503 and result.json()["error"]["code"] == "provider_unavailable"
    assert 1 <= int(result.headers["retry-after"]) <= COOLDOWN
    assert len(served.alpha.requests) + len(served.beta.requests) == calls  # no upstream call
    assert served.customer.held() == 0


def test_a_model_with_one_endpoint_gets_a_breaker_and_one_probe_per_cooldown(served, call_api, breaker):
    from gateway.tests.routing.conftest import add_endpoint, add_model

    add_endpoint(
        add_model("acme/solo"), "alpha", served.alpha.url, priority=0, input_price="1", output_price="2"
    )
    served.alpha.default = "server_error"
    statuses = [call_api(chat("acme/solo"), served.customer.secret).status for _ in range(10)]

    assert all(status >= 500 and status != 503 for status in statuses[:2])  # the provider's failures
    assert set(statuses[2:]) == {503}
    assert len(served.alpha.requests) == 2  # the threshold, then nothing while open

    time.sleep(COOLDOWN + 0.1)
    served.alpha.default = "normal"
    probe = call_api(chat("acme/solo"), served.customer.secret)
    assert probe.status == 200 and len(served.alpha.requests) == 3
    assert call_api(chat("acme/solo"), served.customer.secret).status == 200  # closed again


def test_no_retry_against_an_endpoint_whose_circuit_just_opened(served, call_api, breaker, settings):
    settings.ROUTING_MAX_RETRIES = 3
    settings.CIRCUIT_FAILURE_THRESHOLD = 1
    served.alpha.default = "server_error"

    result = call_api(chat("acme/chat"), served.customer.secret)

    assert result.status == 200 and _providers(result) == ["alpha", "beta"]
    assert len(served.alpha.requests) == 1  # opened by its first failure: not retried


async def test_only_one_request_gets_the_half_open_probe(settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 1
    settings.CIRCUIT_COOLDOWN_SECONDS = "0.2"
    endpoint = 987_654

    await circuit.record_failure(endpoint)
    assert await circuit.states([endpoint]) == {endpoint: circuit.OPEN}
    time.sleep(0.25)

    first = await circuit.states([endpoint])
    second = await circuit.states([endpoint])

    assert (first, second) == ({endpoint: circuit.PROBE}, {endpoint: circuit.OPEN})
    await circuit.record_success(endpoint, circuit.PROBE)
    assert await circuit.states([endpoint]) == {endpoint: circuit.CLOSED}
