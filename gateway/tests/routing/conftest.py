"""Fixtures for the routing tests: one model served by two fake OpenAI providers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from gateway.routing import circuit, observed
from tests.fakes.server import FakeUpstream


@dataclass
class Served:
    alpha: FakeUpstream  # priority 0: tried first
    beta: FakeUpstream  # priority 1
    customer: Any


def add_endpoint(
    model: Any, slug: str, url: str, *, priority: int, input_price: str, output_price: str
) -> Any:
    from catalog.models import Endpoint, Provider
    from catalog.snapshot import invalidate_local

    provider, _ = Provider.objects.get_or_create(
        slug=slug,
        defaults={
            "name": slug.title(),
            "protocol": "openai",
            "base_url": f"{url}/v1",
            "api_key": "sk-fake-1",
        },
    )
    endpoint = Endpoint.objects.create(
        model=model,
        provider=provider,
        upstream_model=f"{slug}-model",
        priority=priority,
        input_price=Decimal(input_price),
        output_price=Decimal(output_price),
    )
    invalidate_local()
    return endpoint


def add_model(slug: str) -> Any:
    from catalog.models import Model

    return Model.objects.create(slug=slug, name=slug, max_output_tokens=4096, context_length=128_000)


@pytest.fixture(autouse=True)
def _fresh_breakers(settings) -> Iterator[None]:
    circuit.reset()
    observed.reset()
    settings.ROUTING_BACKOFF_BASE_SECONDS = "0.01"
    yield
    circuit.reset()
    observed.reset()


@pytest.fixture
def served(make_customer) -> Iterator[Served]:
    """``acme/chat`` at alpha ($1/$2 per M) then beta ($3/$4 per M), each its own fake server."""
    from gateway.providers import get_adapter
    from tests.fakes.openai_server import start_openai_upstream

    get_adapter("openai")  # import the SDK now: timing tests must not measure its first import
    alpha, beta = start_openai_upstream(), start_openai_upstream()
    try:
        model = add_model("acme/chat")
        add_endpoint(model, "alpha", alpha.url, priority=0, input_price="1", output_price="2")
        add_endpoint(model, "beta", beta.url, priority=1, input_price="3", output_price="4")
        yield Served(alpha=alpha, beta=beta, customer=make_customer())
    finally:
        alpha.stop()
        beta.stop()
