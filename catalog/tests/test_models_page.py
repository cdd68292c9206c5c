"""The Models browser: prices, limits, capabilities, search and filters, snippets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.models import Endpoint, Model, Provider
from tests.factories import UserFactory, catalog_with_mock

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    catalog_with_mock()
    openai = Provider.objects.create(slug="openai", name="OpenAI", protocol="openai")
    anthropic = Provider.objects.create(slug="anthropic", name="Anthropic", protocol="anthropic")
    mini = Model.objects.create(
        slug="openai/gpt-4o-mini",
        name="GPT-4o mini",
        context_length=128_000,
        input_modalities=["text", "image"],
        supported_parameters=["tools", "response_format"],
    )
    Endpoint.objects.create(
        model=mini,
        provider=openai,
        upstream_model="gpt-4o-mini",
        input_price=Decimal("0.15"),
        output_price=Decimal("0.6"),
    )
    haiku = Model.objects.create(slug="anthropic/claude-haiku", name="Claude Haiku", context_length=200_000)
    Endpoint.objects.create(
        model=haiku,
        provider=anthropic,
        upstream_model="haiku",
        input_price=Decimal("1"),
        output_price=Decimal("5"),
    )
    hidden = Model.objects.create(slug="openai/retired", name="Retired", enabled=False)
    Endpoint.objects.create(model=hidden, provider=openai, upstream_model="retired")


@pytest.fixture
def user(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _slugs(response) -> list[str]:
    return [r.model.slug for r in response.context["rows"]]


def test_lists_enabled_models_with_prices_per_million_and_context(client, user, catalog):
    response = client.get("/models/")
    assert _slugs(response) == ["anthropic/claude-haiku", "mock/echo", "openai/gpt-4o-mini"]
    body = response.content.decode()
    assert "$0.15" in body and "$0.60" in body and "128K" in body and "200K" in body
    assert "openai/retired" not in body
    assert 'data-copy="openai/gpt-4o-mini"' in body  # copyable id
    assert "Tool calling" in body and "Image input" in body


def test_search_vendor_and_capability_filters(client, user, catalog):
    assert _slugs(client.get("/models/?q=mini")) == ["openai/gpt-4o-mini"]
    assert _slugs(client.get("/models/?q=claude haiku")) == ["anthropic/claude-haiku"]
    assert _slugs(client.get("/models/?author=mock")) == ["mock/echo"]
    assert _slugs(client.get("/models/?capability=vision")) == ["openai/gpt-4o-mini"]
    assert _slugs(client.get("/models/?capability=tools")) == ["mock/echo", "openai/gpt-4o-mini"]
    assert _slugs(client.get("/models/?sort=price_out"))[-1] == "anthropic/claude-haiku"


def test_no_match_says_how_to_recover(client, user, catalog):
    body = client.get("/models/?q=nothing-like-this").content.decode()
    assert "No model matches" in body and "Show all models" in body


def test_htmx_search_returns_only_results(client, user, catalog):
    response = client.get("/models/?q=mini", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="model-results")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="model-results"') and "<html" not in body


def test_detail_has_curl_and_openai_snippets(client, user, catalog):
    body = client.get("/models/openai/gpt-4o-mini/").content.decode()
    assert "curl http://127.0.0.1:8000/api/v1/chat/completions" in body
    assert "from openai import OpenAI" in body
    assert 'model="openai/gpt-4o-mini"' in body


def test_disabled_or_unknown_model_is_not_found(client, user, catalog):
    assert client.get("/models/openai/retired/").status_code == 404
    assert client.get("/models/nope/nope/").status_code == 404


def test_models_page_uses_a_fixed_number_of_queries(client, user, catalog, django_assert_max_num_queries):
    # session, user, models, endpoints, and the sidebar's organisations switcher
    with django_assert_max_num_queries(5):
        client.get("/models/")
