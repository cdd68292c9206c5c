"""A PromptGrid under uvicorn with a mock, an OpenAI, an Anthropic and a Gemini model, each
served by its fake upstream, and an ``openai`` SDK client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from tests.fakes.anthropic_server import anthropic_fake
from tests.fakes.gemini_server import gemini_fake
from tests.fakes.server import FakeUpstream
from tests.fixtures import Customer, create_model

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
def gemini_upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeUpstream]:
    for name in ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with gemini_fake() as fake:
        yield fake


@pytest.fixture
def anthropic_upstream() -> Iterator[FakeUpstream]:
    with anthropic_fake() as fake:
        yield fake


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
    create_model(
        slug="anthropic/claude-sonnet-4-5",
        provider_slug="anthropic",
        protocol="anthropic",
        upstream_model="claude-sonnet-4-5",
        base_url=anthropic_upstream.url,
        api_key="sk-ant-fake-key-1234",
        input_price="3",
        output_price="15",
        cache_read_price="0.30",
        cache_write_price="3.75",
    )
    create_model(
        slug="google/gemini-test",
        provider_slug="google",
        protocol="google",
        upstream_model="gemini-test",
        base_url=gemini_upstream.url,
        api_key="gm-fake-key-1234",
        input_price="1.25",
        output_price="10",
        cache_read_price="0.125",
    )
    customer = make_customer()
    client = openai.OpenAI(
        base_url=f"{live_server_url}/api/v1", api_key=customer.secret, max_retries=0, timeout=20
    )
    yield World(customer, client, live_server_url, openai_upstream, anthropic_upstream, gemini_upstream)
    client.close()


@pytest.fixture(autouse=True)
def _ledger_audit_after_test(transactional_db: Any) -> Iterator[None]:
    """Every test here moves money: the ledger audit must pass after it."""
    yield
    from billing.audit import ledger_audit

    violations = ledger_audit()
    assert violations == [], "ledger audit failed after the test:\n" + "\n".join(map(str, violations))
