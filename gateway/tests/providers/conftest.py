"""Fixtures for adapter tests: running fakes, targets pointing at them, client cleanup."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from catalog.targets import Target
from gateway.providers.clients import aclose_clients
from tests.fakes.anthropic_server import anthropic_fake
from tests.fakes.server import FakeUpstream


@pytest.fixture
def anthropic_upstream() -> Iterator[FakeUpstream]:
    with anthropic_fake() as fake:
        yield fake


def make_target(url: str, protocol: str, **overrides: object) -> Target:
    target = Target(
        endpoint_id=1,
        model_slug=f"{protocol}/test-model",
        provider_slug=protocol,
        provider_name=protocol.title(),
        protocol=protocol,
        base_url=url,
        api_key="sk-test-upstream",
        upstream_model="claude-test" if protocol == "anthropic" else "gemini-test",
        max_output_tokens=8192,
        connect_timeout=2.0,
        first_byte_timeout=5.0,
        idle_timeout=5.0,
    )
    return replace(target, **overrides)


@pytest.fixture
def anthropic_target(anthropic_upstream: FakeUpstream) -> Target:
    return make_target(anthropic_upstream.url, "anthropic")


@pytest.fixture
def gemini_target(gemini_upstream: FakeUpstream) -> Target:
    return make_target(gemini_upstream.url, "google")


@pytest.fixture(autouse=True)
async def _close_sdk_clients():
    yield
    await aclose_clients()
