import json
import logging
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.models import Model, Provider

SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    call_command("seed_catalog", stdout=StringIO())
    return client


def _inline_form(model: Model) -> dict[str, str]:
    """The admin change form's POST data for a model and its endpoint inline, unchanged."""
    data = {
        "slug": model.slug,
        "name": model.name,
        "description": model.description,
        "context_length": str(model.context_length),
        "max_output_tokens": str(model.max_output_tokens),
        "input_modalities": json.dumps(model.input_modalities),
        "output_modalities": json.dumps(model.output_modalities),
        "supported_parameters": json.dumps(model.supported_parameters),
        "enabled": "on",
        "endpoints-TOTAL_FORMS": str(model.endpoints.count()),
        "endpoints-INITIAL_FORMS": str(model.endpoints.count()),
        "endpoints-MIN_NUM_FORMS": "0",
        "endpoints-MAX_NUM_FORMS": "1000",
        "aliases-TOTAL_FORMS": str(model.aliases.count()),
        "aliases-INITIAL_FORMS": str(model.aliases.count()),
        "aliases-MIN_NUM_FORMS": "0",
        "aliases-MAX_NUM_FORMS": "1000",
    }
    for i, alias in enumerate(model.aliases.all()):
        prefix = f"aliases-{i}-"
        data |= {
            prefix + "id": str(alias.pk),
            prefix + "model": str(model.pk),
            prefix + "name": alias.name,
            prefix + "kind": alias.kind,
        }
    for i, ep in enumerate(model.endpoints.all()):
        prefix = f"endpoints-{i}-"
        data |= {
            prefix + "id": str(ep.pk),
            prefix + "model": str(model.pk),
            prefix + "provider": str(ep.provider_id),
            prefix + "upstream_model": ep.upstream_model,
            prefix + "priority": str(ep.priority),
            prefix + "enabled": "on",
            prefix + "input_price": str(ep.input_price),
            prefix + "output_price": str(ep.output_price),
            prefix + "cache_read_price": str(ep.cache_read_price),
            prefix + "cache_write_price": str(ep.cache_write_price),
            prefix + "request_price": str(ep.request_price),
            prefix + "context_length": str(ep.context_length),
            prefix + "max_output_tokens": str(ep.max_output_tokens),
        }
    return data


def test_price_edited_in_the_admin_shows_in_the_models_api(admin_client, settings):
    settings.CATALOG_CACHE_SECONDS = 60  # the edit must invalidate the cached snapshot itself
    listed = {m["id"]: m for m in admin_client.get("/api/v1/models").json()["data"]}
    assert listed["openai/gpt-4o-mini"]["pricing"]["prompt"] == "0.00000015"

    model = Model.objects.get(slug="openai/gpt-4o-mini")
    form = _inline_form(model) | {"endpoints-0-input_price": "0.25"}
    response = admin_client.post(f"/admin/catalog/model/{model.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]

    listed = {m["id"]: m for m in admin_client.get("/api/v1/models").json()["data"]}
    assert listed["openai/gpt-4o-mini"]["pricing"]["prompt"] == "0.00000025"
    assert listed["openai/gpt-4o-mini"]["architecture"]["input_modalities"] == ["text", "image", "file"]


def test_endpoints_are_edited_inline_under_their_model(admin_client):
    model = Model.objects.get(slug="mock/echo")
    page = admin_client.get(f"/admin/catalog/model/{model.pk}/change/").content.decode()
    assert 'name="endpoints-0-input_price"' in page
    assert 'name="endpoints-0-output_price"' in page


def test_admin_lists_filter_and_search(admin_client):
    page = admin_client.get("/admin/catalog/model/?q=gemini").content.decode()
    assert "google/gemini-2.5-flash" in page
    assert "openai/gpt-4o-mini" not in page
    page = admin_client.get("/admin/catalog/model/?provider=anthropic").content.decode()
    assert "anthropic/claude-sonnet-4-5" in page
    assert "mock/echo" not in page
    page = admin_client.get(
        f"/admin/catalog/endpoint/?provider__id__exact={Provider.objects.get(slug='mock').pk}"
    )
    assert page.status_code == 200 and "mock/lorem" in page.content.decode()
    assert admin_client.get("/admin/catalog/provider/?protocol=mock").status_code == 200


def test_endpoint_prices_are_editable_from_the_endpoint_list(admin_client):
    page = admin_client.get("/admin/catalog/endpoint/").content.decode()
    assert "form-0-input_price" in page


def _provider_form(provider: Provider, **changes: str) -> dict[str, str]:
    data = {
        "slug": provider.slug,
        "name": provider.name,
        "protocol": provider.protocol,
        "base_url": provider.base_url,
        "api_key": "",
        "enabled": "on",
    }
    return data | changes


def test_provider_key_is_write_only_and_masked(admin_client, settings):
    settings.PROVIDER_ENV = {}
    openai = Provider.objects.get(slug="openai")
    url = f"/admin/catalog/provider/{openai.pk}/change/"
    assert admin_client.post(url, _provider_form(openai, api_key=SECRET)).status_code == 302
    openai.refresh_from_db()
    assert openai.api_key == SECRET

    for page in (admin_client.get(url), admin_client.get("/admin/catalog/provider/")):
        html = page.content.decode()
        assert SECRET not in html
        assert SECRET[-4:] in html  # the masked form, e.g. sk-…6789
    assert 'type="password"' in admin_client.get(url).content.decode()


def test_blank_key_keeps_the_stored_one_and_clear_removes_it(admin_client):
    openai = Provider.objects.get(slug="openai")
    Provider.objects.filter(pk=openai.pk).update(api_key=SECRET)
    url = f"/admin/catalog/provider/{openai.pk}/change/"

    assert admin_client.post(url, _provider_form(openai, name="OpenAI (main)")).status_code == 302
    openai.refresh_from_db()
    assert (openai.name, openai.api_key) == ("OpenAI (main)", SECRET)

    assert admin_client.post(url, _provider_form(openai, clear_api_key="on")).status_code == 302
    openai.refresh_from_db()
    assert openai.api_key == ""


def test_provider_key_never_reaches_the_logs(admin_client, caplog):
    openai = Provider.objects.get(slug="openai")
    with caplog.at_level(logging.DEBUG):
        admin_client.post(
            f"/admin/catalog/provider/{openai.pk}/change/", _provider_form(openai, api_key=SECRET)
        )
        admin_client.get("/api/v1/models")
    assert SECRET not in caplog.text


def test_models_api_never_shows_provider_keys(admin_client):
    Provider.objects.filter(slug="openai").update(api_key=SECRET)
    assert SECRET not in admin_client.get("/api/v1/models").content.decode()


def test_new_provider_with_a_key_from_the_admin_makes_its_endpoints_routable(admin_client, settings):
    settings.PROVIDER_ENV = {}
    response = admin_client.post(
        "/admin/catalog/provider/add/",
        {
            "slug": "local-vllm",
            "name": "Local vLLM",
            "protocol": "openai",
            "base_url": "http://127.0.0.1:8001/v1",
            "api_key": SECRET,
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    provider = Provider.objects.get(slug="local-vllm")
    assert provider.api_key == SECRET
    model = Model.objects.get(slug="openai/gpt-4o-mini")
    model.endpoints.create(provider=provider, upstream_model="qwen", priority=-1)

    from catalog.snapshot import get_snapshot

    (endpoint,) = get_snapshot().models["openai/gpt-4o-mini"].endpoints  # OpenAI itself has no key
    assert (endpoint.target.base_url, endpoint.target.api_key) == ("http://127.0.0.1:8001/v1", SECRET)


@pytest.mark.parametrize("price", ["-1", "1000000000000"])
def test_a_negative_or_absurd_price_is_refused_in_the_admin(admin_client, price):
    model = Model.objects.get(slug="openai/gpt-4o-mini")
    before = model.endpoints.get().input_price
    form = _inline_form(model) | {"endpoints-0-input_price": price}

    response = admin_client.post(f"/admin/catalog/model/{model.pk}/change/", form)

    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert model.endpoints.get().input_price == before
