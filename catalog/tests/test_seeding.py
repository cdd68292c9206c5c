from decimal import Decimal

import pytest
from django.core.management import call_command

from catalog.models import Endpoint, Model, Provider
from catalog.services import catalog_data


def _catalog_state() -> list[tuple]:
    return sorted(
        Endpoint.objects.values_list(
            "model__slug",
            "model__name",
            "model__context_length",
            "model__max_output_tokens",
            "provider__slug",
            "upstream_model",
            "priority",
            "enabled",
            "input_price",
            "output_price",
            "cache_read_price",
            "cache_write_price",
            "request_price",
        )
    )


@pytest.mark.django_db
def test_seed_creates_providers_models_and_one_endpoint_each():
    call_command("seed_catalog", stdout=None)
    data = catalog_data()
    assert set(Provider.objects.values_list("slug", flat=True)) == {"openai", "anthropic", "google", "mock"}
    assert Model.objects.count() == len(data["models"])
    assert Endpoint.objects.count() == len(data["models"])
    assert Provider.objects.get(slug="openai").base_url == "https://api.openai.com/v1"
    assert Provider.objects.get(slug="mock").protocol == "mock"
    for slug in ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "google/gemini-2.5-flash"):
        assert Model.objects.filter(slug=slug, enabled=True).exists(), slug


@pytest.mark.django_db
def test_seed_uses_the_data_file_prices_and_limits():
    call_command("seed_catalog")
    mini = Endpoint.objects.select_related("model").get(model__slug="openai/gpt-4o-mini")
    assert (mini.input_price, mini.output_price, mini.cache_read_price) == (
        Decimal("0.15"),
        Decimal("0.6"),
        Decimal("0.075"),
    )
    assert (mini.model.context_length, mini.model.max_output_tokens) == (128000, 16384)
    sonnet = Endpoint.objects.get(model__slug="anthropic/claude-sonnet-4-5")
    assert (sonnet.upstream_model, sonnet.cache_write_price) == ("claude-sonnet-4-5", Decimal("3.75"))
    flash = Endpoint.objects.get(model__slug="google/gemini-2.5-flash")
    assert (flash.upstream_model, flash.provider.slug) == ("gemini-2.5-flash", "google")


@pytest.mark.django_db
def test_seeding_twice_leaves_the_same_catalog():
    call_command("seed_catalog")
    first = _catalog_state()
    call_command("seed_catalog")
    assert _catalog_state() == first
    assert Provider.objects.count() == 4


@pytest.mark.django_db
def test_reseeding_keeps_admin_price_edits_unless_asked_to_reset():
    call_command("seed_catalog")
    Endpoint.objects.filter(model__slug="openai/gpt-4o-mini").update(input_price=Decimal("9.99"))
    Provider.objects.filter(slug="openai").update(api_key="sk-operator-set", enabled=False)

    call_command("seed_catalog")
    assert Endpoint.objects.get(model__slug="openai/gpt-4o-mini").input_price == Decimal("9.99")
    openai = Provider.objects.get(slug="openai")
    assert (openai.api_key, openai.enabled) == ("sk-operator-set", False)

    call_command("seed_catalog", "--reset-prices")
    assert Endpoint.objects.get(model__slug="openai/gpt-4o-mini").input_price == Decimal("0.15")


@pytest.mark.django_db
def test_reseeding_adds_no_second_endpoint_when_the_upstream_name_was_edited():
    call_command("seed_catalog")
    Endpoint.objects.filter(model__slug="openai/gpt-4o-mini").update(upstream_model="gpt-4o-mini-2024-07-18")
    call_command("seed_catalog")
    assert Endpoint.objects.filter(model__slug="openai/gpt-4o-mini").count() == 1


@pytest.mark.django_db
def test_refresh_models_rewrites_descriptions_but_plain_seed_does_not():
    call_command("seed_catalog")
    Model.objects.filter(slug="mock/echo").update(description="edited")
    call_command("seed_catalog")
    assert Model.objects.get(slug="mock/echo").description == "edited"
    call_command("seed_catalog", "--refresh-models")
    assert Model.objects.get(slug="mock/echo").description.startswith("Offline test model")


@pytest.mark.django_db
def test_mock_models_are_offline_priced_and_fully_featured():
    call_command("seed_catalog")
    for slug, upstream in (("mock/echo", "echo"), ("mock/lorem", "lorem")):
        endpoint = Endpoint.objects.select_related("model", "provider").get(model__slug=slug)
        assert endpoint.provider.slug == "mock"
        assert endpoint.upstream_model == upstream
        assert endpoint.input_price > 0 and endpoint.output_price > 0
        assert (endpoint.model.context_length, endpoint.model.max_output_tokens) == (32768, 4096)
        for param in ("tools", "tool_choice", "temperature", "stop", "response_format", "max_tokens"):
            assert param in endpoint.model.supported_parameters
