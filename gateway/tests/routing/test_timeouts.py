"""Connect, first-byte and idle-between-chunks timeouts, each ending in a fallback or a billed error."""

import socket
import time

import pytest

from billing.models import Generation
from gateway.tests.conftest import chat

pytestmark = pytest.mark.django_db


def _generation(result) -> Generation:
    return Generation.objects.get(pk=result.headers["x-generation-id"])


def _limit_alpha(**timeouts: float) -> None:
    from catalog.models import Provider
    from catalog.snapshot import invalidate_local

    Provider.objects.filter(slug="alpha").update(**timeouts)
    invalidate_local()


def _point_alpha_at(url: str) -> None:
    from catalog.models import Provider
    from catalog.snapshot import invalidate_local

    Provider.objects.filter(slug="alpha").update(base_url=f"{url}/v1")
    invalidate_local()


@pytest.mark.parametrize("stream", [False, True])
def test_no_first_byte_in_time_falls_back(served, call_api, stream):
    # Tight limits on alpha only (its provider's own timeouts), so beta's answer is never cut short.
    _limit_alpha(connect_timeout=0.5, first_byte_timeout=0.5, idle_timeout=0.5)
    served.alpha.push({"kind": "slow_first_byte", "delay": 30})

    started = time.monotonic()
    result = call_api(chat("acme/chat", stream=stream), served.customer.secret)

    assert time.monotonic() - started < 15  # not the 30 s alpha would have taken
    assert result.status == 200
    gen = _generation(result)
    assert gen.provider_slug == "beta"
    assert [a["outcome"] for a in gen.attempts] == ["timeout", "success"]


def test_a_stream_idle_past_the_limit_ends_with_an_error_and_bills_what_was_sent(served, call_api, settings):
    _limit_alpha(idle_timeout=0.5)
    served.alpha.push({"kind": "stall", "delay": 30, "text": "one two three four five six seven eight"})

    started = time.monotonic()
    result = call_api(chat("acme/chat", stream=True), served.customer.secret)

    assert time.monotonic() - started < 15  # not the 30 s stall
    assert result.status == 200 and result.text
    error = next(e["error"] for e in result.chunks if "error" in e)
    assert error["type"] == "timeout"
    gen = _generation(result)
    assert gen.status == "error" and gen.provider_slug == "alpha"
    assert gen.completion_tokens > 0 and gen.cost_nanos > 0
    assert served.beta.requests == []
    assert served.customer.held() == 0


def test_a_refused_connection_falls_back(served, call_api):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _point_alpha_at(f"http://127.0.0.1:{port}")

    result = call_api(chat("acme/chat"), served.customer.secret)

    assert result.status == 200
    assert [a["outcome"] for a in _generation(result).attempts] == ["connect", "success"]


def test_a_connection_that_hangs_times_out_and_falls_back(served, call_api, settings):
    settings.UPSTREAM_CONNECT_TIMEOUT = "0.3"
    # The kernel may still complete a handshake the listener never accepts; then the first byte is
    # what never comes. Either way the endpoint is given up within these limits.
    settings.UPSTREAM_FIRST_BYTE_TIMEOUT = "0.5"
    # A listener that never accepts, its queue already full: new connections get no answer.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    time.sleep(0.1)
    try:
        _point_alpha_at(f"http://127.0.0.1:{listener.getsockname()[1]}")
        started = time.monotonic()
        result = call_api(chat("acme/chat"), served.customer.secret)
        elapsed = time.monotonic() - started
    finally:
        for s in [*fillers, listener]:
            s.close()

    assert result.status == 200 and result.json()["provider"] == "Beta"
    assert _generation(result).attempts[0]["outcome"] in ("timeout", "connect")
    assert elapsed < 5


def test_a_providers_own_timeouts_override_the_gateway_defaults(served, call_api, settings):
    from catalog.models import Provider
    from catalog.snapshot import get_snapshot, invalidate_local

    settings.UPSTREAM_FIRST_BYTE_TIMEOUT = "60"
    Provider.objects.filter(slug="alpha").update(connect_timeout=0.3, first_byte_timeout=0.3, idle_timeout=7)
    invalidate_local()
    targets = {e.target.provider_slug: e.target for e in get_snapshot().models["acme/chat"].endpoints}
    assert (targets["alpha"].first_byte_timeout, targets["alpha"].idle_timeout) == (0.3, 7.0)
    assert targets["beta"].first_byte_timeout == 60.0
    served.alpha.push({"kind": "slow_first_byte", "delay": 10})

    started = time.monotonic()
    result = call_api(chat("acme/chat"), served.customer.secret)

    assert time.monotonic() - started < 5
    assert result.json()["provider"] == "Beta"
    assert _generation(result).attempts[0]["outcome"] == "timeout"
