"""Retries: bounded, jittered, honouring a short Retry-After, moving on past a long one."""

import random
import time

import pytest

from billing.models import Generation
from gateway.routing.retry import backoff_seconds
from gateway.tests.conftest import chat

pytestmark = pytest.mark.django_db

ALPHA_ONLY = {"provider": {"only": ["alpha"]}}


def _generation(result) -> Generation:
    return Generation.objects.get(pk=result.headers["x-generation-id"])


@pytest.mark.parametrize("stream", [False, True])
def test_a_failed_call_is_retried_on_the_same_endpoint_then_succeeds(served, call_api, settings, stream):
    settings.ROUTING_MAX_RETRIES = 1
    served.alpha.push("server_error")

    result = call_api(chat("acme/chat", stream=stream, **ALPHA_ONLY), served.customer.secret)

    assert result.status == 200
    assert len(served.alpha.requests) == 2
    gen = _generation(result)
    assert gen.status == "success"
    assert [(a["provider"], a["outcome"]) for a in gen.attempts] == [
        ("alpha", "server"),
        ("alpha", "success"),
    ]


def test_retries_are_bounded(served, call_api, settings):
    settings.ROUTING_MAX_RETRIES = 2
    served.alpha.default = "server_error"

    result = call_api(chat("acme/chat", **ALPHA_ONLY), served.customer.secret)

    assert result.status == 502
    assert len(served.alpha.requests) == 3  # the call and two retries
    assert served.customer.held() == 0


def test_attempts_per_request_are_capped_across_endpoints(served, call_api, settings):
    settings.ROUTING_MAX_RETRIES = 3
    settings.ROUTING_MAX_ATTEMPTS = 2
    served.alpha.default = "server_error"
    served.beta.default = "server_error"

    result = call_api(chat("acme/chat"), served.customer.secret)

    assert result.status == 502
    assert len(served.alpha.requests) + len(served.beta.requests) == 2


def test_a_short_retry_after_is_waited_for(served, call_api, settings):
    settings.ROUTING_MAX_RETRIES = 1
    served.alpha.push({"kind": "rate_limit", "retry_after": 1})

    started = time.monotonic()
    result = call_api(chat("acme/chat"), served.customer.secret)
    elapsed = time.monotonic() - started

    assert result.status == 200 and result.json()["provider"] == "Alpha"
    assert len(served.alpha.requests) == 2 and served.beta.requests == []
    assert elapsed >= 1.0


def test_a_retry_after_past_the_cap_moves_on_to_the_next_endpoint_at_once(served, call_api, settings):
    settings.ROUTING_MAX_RETRIES = 1
    settings.ROUTING_RETRY_AFTER_CAP_SECONDS = "2"
    served.alpha.push({"kind": "rate_limit", "retry_after": 30})

    started = time.monotonic()
    result = call_api(chat("acme/chat"), served.customer.secret)

    assert time.monotonic() - started < 10  # not the 30 s the provider asked for
    assert result.status == 200 and result.json()["provider"] == "Beta"
    assert len(served.alpha.requests) == 1


def test_backoff_is_jittered_and_capped(settings):
    settings.ROUTING_BACKOFF_BASE_SECONDS = "0.5"
    settings.ROUTING_BACKOFF_MAX_SECONDS = "2"
    rng = random.Random(7)

    waits = [backoff_seconds(retry, rng=rng) for retry in (1, 2, 3, 4, 5, 6) for _ in range(50)]

    assert all(0 <= w <= 2 for w in waits)
    assert max(waits[:50]) <= 0.5  # the first retry waits at most the base
    assert len({round(w, 6) for w in waits}) > 250  # jittered, not in step
