"""Shared fixtures for gateway tests (registered in the root conftest).

- ``openai_upstream``: a running fake OpenAI server (``tests.fakes.openai_server``); ``gemini_upstream``
  and ``anthropic_upstream`` the same for Gemini and Anthropic.
- ``create_anthropic_model`` / ``create_gemini_model``: a model served by that fake, at the
  prices the fakes' "usage" scripts are priced for.
- ``make_customer``: a user with credits and a standard API key.
- ``make_mock_model`` / ``make_openai_model``: catalog entries (the latter served by a fake).
- ``live_server_url``: the real ASGI app under uvicorn on 127.0.0.1 (needs ``transactional_db``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest


@dataclass
class Customer:
    user: Any
    account: Any
    key: Any
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def balance(self) -> int:
        self.account.refresh_from_db()
        return self.account.balance_nanos

    def held(self) -> int:
        self.account.refresh_from_db()
        return self.account.held_nanos


def create_customer(
    *, email: str = "dev@example.com", credits_nanos: int = 10_000_000_000, **key_fields: Any
) -> Customer:
    from django.contrib.auth import get_user_model

    from accounts.services import api_key_create
    from billing import services as billing

    user = get_user_model().objects.create_user(email, email, "pw-123456789")
    account = billing.account_for_user(user=user)
    if credits_nanos:
        billing.credits_grant(account=account, amount_nanos=credits_nanos, idempotency_key=f"seed:{email}")
    key, secret = api_key_create(user=user, name="test key", **key_fields)
    return Customer(user=user, account=account, key=key, secret=secret)


def create_model(
    *,
    slug: str,
    provider_slug: str,
    protocol: str,
    upstream_model: str,
    base_url: str = "",
    api_key: str = "",
    input_price: str = "0",
    output_price: str = "0",
    request_price: str = "0",
    cache_read_price: str = "0",
    cache_write_price: str = "0",
    max_output_tokens: int = 4096,
    context_length: int = 128_000,
    output_modalities: list[str] | None = None,
) -> Any:
    from catalog.models import Endpoint, Model, Provider
    from catalog.snapshot import invalidate_local

    provider, _ = Provider.objects.get_or_create(
        slug=provider_slug,
        defaults={
            "name": provider_slug.title() if provider_slug != "openai" else "OpenAI",
            "protocol": protocol,
            "base_url": base_url,
            "api_key": api_key,
        },
    )
    model = Model.objects.create(
        slug=slug,
        name=slug,
        max_output_tokens=max_output_tokens,
        context_length=context_length,
        output_modalities=output_modalities or [],
    )
    endpoint = Endpoint.objects.create(
        model=model,
        provider=provider,
        upstream_model=upstream_model,
        input_price=Decimal(input_price),
        output_price=Decimal(output_price),
        request_price=Decimal(request_price),
        cache_read_price=Decimal(cache_read_price),
        cache_write_price=Decimal(cache_write_price),
    )
    invalidate_local()
    return endpoint


# Prices at which the fakes' "usage" scripts cost round sums (see gateway/tests/providers).
ANTHROPIC_PRICES = {
    "input_price": "3",
    "output_price": "15",
    "cache_read_price": "0.30",
    "cache_write_price": "3.75",
}
GEMINI_PRICES = {"input_price": "1.25", "output_price": "10", "cache_read_price": "0.125"}


def create_anthropic_model(
    base_url: str, slug: str = "anthropic/claude-sonnet-4-5", upstream_model: str = "claude-sonnet-4-5"
) -> Any:
    """A Claude model served by the Anthropic fake at ``base_url``."""
    return create_model(
        slug=slug,
        provider_slug="anthropic",
        protocol="anthropic",
        upstream_model=upstream_model,
        base_url=base_url,
        api_key="sk-ant-fake-key-1234",
        **ANTHROPIC_PRICES,
    )


def create_gemini_model(
    base_url: str, slug: str = "google/gemini-test", upstream_model: str = "gemini-test"
) -> Any:
    """A Gemini model served by the Gemini fake at ``base_url``."""
    return create_model(
        slug=slug,
        provider_slug="google",
        protocol="google",
        upstream_model=upstream_model,
        base_url=base_url,
        api_key="gm-fake-key-1234",
        **GEMINI_PRICES,
    )


@pytest.fixture
def make_customer(db):
    count = iter(range(1, 1000))

    def make(**kwargs: Any) -> Customer:
        kwargs.setdefault("email", f"dev{next(count)}@example.com")
        return create_customer(**kwargs)

    return make


@pytest.fixture
def make_mock_model(db):
    def make(slug: str = "mock/echo", upstream_model: str = "echo", **kwargs: Any) -> Any:
        return create_model(
            slug=slug, provider_slug="mock", protocol="mock", upstream_model=upstream_model, **kwargs
        )

    return make


@pytest.fixture
def openai_upstream() -> Iterator[Any]:
    from tests.fakes.openai_server import start_openai_upstream

    fake = start_openai_upstream()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def anthropic_upstream() -> Iterator[Any]:
    from tests.fakes.anthropic_server import anthropic_fake

    with anthropic_fake() as fake:
        yield fake


@pytest.fixture
def gemini_upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A running fake Gemini API (``tests.fakes.gemini_server``), Google settings unset."""
    from tests.fakes.gemini_server import gemini_fake

    for name in ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with gemini_fake() as fake:
        yield fake


@pytest.fixture
def make_openai_model(db, openai_upstream):
    def make(slug: str = "openai/gpt-4o-mini", upstream_model: str = "gpt-4o-mini", **kwargs: Any) -> Any:
        kwargs.setdefault("input_price", "0.15")
        kwargs.setdefault("output_price", "0.60")
        return create_model(
            slug=slug,
            provider_slug="openai",
            protocol="openai",
            upstream_model=upstream_model,
            base_url=f"{openai_upstream.url}/v1",
            api_key="sk-test-fake-key-1234",
            **kwargs,
        )

    return make


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server_url(transactional_db) -> Iterator[str]:
    """``promptgrid.asgi:application`` served by uvicorn in a thread, sharing the test database."""
    import uvicorn
    from django.db import connections

    # Each request runs its database work on its own thread; close those connections when the
    # request ends, or they would outlive the test and block the test database's flush.
    db_settings = connections.settings["default"]
    saved_max_age = db_settings["CONN_MAX_AGE"]
    db_settings["CONN_MAX_AGE"] = 0
    # Served as in production: the gateway's database work on its own thread pool.
    from django.conf import settings

    shared_threads = settings.GATEWAY_DB_SHARED_THREADS
    settings.GATEWAY_DB_SHARED_THREADS = True
    port = _free_port()
    config = uvicorn.Config(
        "promptgrid.asgi:application", host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        from gateway.providers.clients import aclose_clients

        try:
            await server.serve()
        finally:
            await aclose_clients()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="live-gateway", daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.025)
    else:
        raise RuntimeError("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        settings.GATEWAY_DB_SHARED_THREADS = shared_threads
        db_settings["CONN_MAX_AGE"] = saved_max_age
