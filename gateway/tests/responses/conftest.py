"""A PromptGrid under uvicorn with a mock, an OpenAI, an Anthropic and a Gemini model, each
served by its fake upstream, and an ``openai`` SDK client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from tests.fakes.server import FakeUpstream
from tests.fixtures import Customer, create_anthropic_model, create_gemini_model

# The fakes' "usage" scripts cost exactly this at these prices (see gateway/tests/providers).
ANTHROPIC_USAGE_NANOS = 1_134_000
GEMINI_USAGE_NANOS = 591_250
MODELS = ["mock/echo", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "google/gemini-test"]


@dataclass
class World:
    customer: Customer
    client: openai.OpenAI
    url: str
    openai: FakeUpstream
    anthropic: FakeUpstream
    gemini: FakeUpstream

    def fake_for(self, model: str) -> FakeUpstream | None:
        return {"openai": self.openai, "anthropic": self.anthropic, "google": self.gemini}.get(
            model.split("/")[0]
        )


@pytest.fixture
def world(
    live_server_url: str,
    make_customer: Any,
    make_mock_model: Any,
    make_openai_model: Any,
    openai_upstream: FakeUpstream,
    anthropic_upstream: FakeUpstream,
    gemini_upstream: FakeUpstream,
) -> Iterator[World]:
    make_mock_model(input_price="1", output_price="2")
    make_openai_model()
    create_anthropic_model(anthropic_upstream.url)
    create_gemini_model(gemini_upstream.url)
    customer = make_customer()
    client = openai.OpenAI(
        base_url=f"{live_server_url}/api/v1", api_key=customer.secret, max_retries=0, timeout=20
    )
    yield World(customer, client, live_server_url, openai_upstream, anthropic_upstream, gemini_upstream)
    client.close()


@pytest.fixture(autouse=True)
def _ledger_audit_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test here that uses the database moves money: the ledger audit must pass after it."""
    if request.node.get_closest_marker("django_db") is None:
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    from billing.audit import ledger_audit

    violations = ledger_audit()
    assert violations == [], "ledger audit failed after the test:\n" + "\n".join(map(str, violations))
