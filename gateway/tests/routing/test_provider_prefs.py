"""OpenRouter's ``provider`` object: order, allow_fallbacks, only, ignore, sort, max_price."""

import pytest

from billing.models import Generation
from gateway.routing import observed
from gateway.tests.conftest import chat

pytestmark = pytest.mark.django_db


def _ask(call_api, served, provider, **fields):
    return call_api(chat("acme/chat", provider=provider, **fields), served.customer.secret)


def _endpoint_id(slug: str) -> int:
    from catalog.models import Endpoint

    return Endpoint.objects.get(provider__slug=slug).pk


def test_order_puts_the_named_provider_first(served, call_api):
    result = _ask(call_api, served, {"order": ["beta"]})

    assert result.json()["provider"] == "Beta" and served.alpha.requests == []


def test_order_still_falls_back_to_the_others(served, call_api):
    served.beta.push("server_error")

    result = _ask(call_api, served, {"order": ["beta"]})

    assert result.json()["provider"] == "Alpha"


def test_allow_fallbacks_false_stays_with_the_ordered_provider(served, call_api):
    served.beta.push("server_error")

    result = _ask(call_api, served, {"order": ["beta"], "allow_fallbacks": False})

    assert result.status == 502 and served.alpha.requests == []


def test_allow_fallbacks_false_without_order_uses_only_the_first_endpoint(served, call_api):
    served.alpha.push("server_error")

    result = _ask(call_api, served, {"allow_fallbacks": False})

    assert result.status == 502 and served.beta.requests == []


def test_ignore_and_only_filter_providers_by_slug_or_name(served, call_api):
    assert _ask(call_api, served, {"ignore": ["alpha"]}).json()["provider"] == "Beta"
    assert _ask(call_api, served, {"only": ["Beta"]}).json()["provider"] == "Beta"
    assert served.alpha.requests == []


def test_max_price_excludes_dearer_endpoints(served, call_api):
    served.alpha.push("server_error")

    result = _ask(call_api, served, {"max_price": {"prompt": 2, "completion": 2}})

    assert result.status == 502 and served.beta.requests == []  # beta ($3/$4) is too dear


def test_max_price_that_nothing_meets_is_a_404(served, call_api):
    result = _ask(call_api, served, {"max_price": {"prompt": 0.5}})

    assert result.status == 404
    assert result.json()["error"]["param"] == "provider"
    assert Generation.objects.count() == 0


def test_sort_by_price_puts_the_cheapest_first(served, call_api):
    from catalog.models import Endpoint
    from catalog.snapshot import invalidate_local

    Endpoint.objects.filter(provider__slug="alpha").update(input_price=10, output_price=10)
    invalidate_local()

    assert _ask(call_api, served, {"sort": "price"}).json()["provider"] == "Beta"
    assert _ask(call_api, served, {}).json()["provider"] == "Alpha"  # priority without sort


def test_sort_by_latency_and_throughput_uses_observed_figures(served, call_api):
    alpha, beta = _endpoint_id("alpha"), _endpoint_id("beta")
    observed.record_latency(alpha, 900)
    observed.record_latency(beta, 50)
    observed.record_throughput(alpha, 100, 1.0)
    observed.record_throughput(beta, 10, 1.0)

    assert _ask(call_api, served, {"sort": "latency"}).json()["provider"] == "Beta"
    assert _ask(call_api, served, {"sort": {"by": "throughput"}}).json()["provider"] == "Alpha"


def test_answers_feed_the_observed_figures(served, call_api):
    _ask(call_api, served, {"order": ["beta"]}, stream=True)

    figures = observed.figures(_endpoint_id("beta"))
    assert figures.latency_ms is not None and figures.latency_ms > 0
    assert figures.throughput is not None and figures.throughput > 0


@pytest.mark.parametrize(
    ("provider", "param"),
    [
        ("alpha", "provider"),
        ({"order": "alpha"}, "provider.order"),
        ({"sort": "cheapest"}, "provider.sort"),
        ({"allow_fallbacks": "no"}, "provider.allow_fallbacks"),
        ({"max_price": {"prompt": "lots"}}, "provider.max_price.prompt"),
        ({"max_price": {"prompt": -1}}, "provider.max_price.prompt"),
    ],
)
def test_a_malformed_provider_object_is_a_400_naming_the_field(served, call_api, provider, param):
    result = _ask(call_api, served, provider)

    assert result.status == 400 and result.json()["error"]["param"] == param
