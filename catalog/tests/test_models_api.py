import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command

from catalog.models import Endpoint, Model
from catalog.services import catalog_data
from catalog.snapshot import get_snapshot
from catalog.tests.factories import EndpointFactory, ModelFactory

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "openrouter_models_schema.json").read_text())
MILLION = Decimal(1_000_000)


@pytest.fixture
def seeded(db):
    call_command("seed_catalog", stdout=StringIO())


def _list(client, query: str = ""):
    response = client.get(f"/api/v1/models{query}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_models_list_validates_against_openrouters_schema(seeded, client):
    body = _list(client)
    jsonschema.validate(body, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert body["total_count"] == len(body["data"])


def test_models_list_needs_no_authentication_and_lists_every_seeded_model(seeded, client):
    shipped = catalog_data()["models"]
    # As OpenRouter's: the models that answer in text unless output_modalities says otherwise.
    text = {m["id"] for m in shipped if "text" in m["output_modalities"]}
    assert {m["id"] for m in _list(client)["data"]} == text
    assert {m["id"] for m in _list(client, "?output_modalities=all")["data"]} == {m["id"] for m in shipped}
    embedding = {m["id"] for m in _list(client, "?output_modalities=embeddings")["data"]}
    assert embedding == {m["id"] for m in shipped} - text and "mock/embed" in embedding


def test_models_list_shows_the_data_file_prices_per_token_without_float_noise(seeded, client):
    listed = {m["id"]: m for m in _list(client, "?output_modalities=all")["data"]}
    for item in catalog_data()["models"]:
        pricing = listed[item["id"]]["pricing"]
        for ours, theirs in (
            ("input", "prompt"),
            ("output", "completion"),
            ("cache_read", "input_cache_read"),
            ("cache_write", "input_cache_write"),
        ):
            assert Decimal(pricing[theirs]) * MILLION == Decimal(item["prices"][ours]), (item["id"], theirs)
            assert "e" not in pricing[theirs].lower()
    mini = listed["openai/gpt-4o-mini"]
    assert mini["pricing"]["prompt"] == "0.00000015"
    assert mini["pricing"]["completion"] == "0.0000006"
    assert mini["pricing"]["request"] == "0"
    assert mini["context_length"] == 128000
    assert mini["top_provider"] == {
        "context_length": 128000,
        "max_completion_tokens": 16384,
        "is_moderated": False,
    }
    assert mini["architecture"]["input_modalities"] == ["text", "image", "file"]
    assert mini["architecture"]["tokenizer"] == "GPT"
    assert "tools" in mini["supported_parameters"]
    assert mini["canonical_slug"] == "openai/gpt-4o-mini"


def test_disabled_models_and_models_without_endpoints_are_not_listed(seeded, client):
    Model.objects.filter(slug="openai/gpt-4o").update(enabled=False)
    Endpoint.objects.filter(model__slug="openai/gpt-4.1").update(enabled=False)
    ids = {m["id"] for m in _list(client)["data"]}
    assert "openai/gpt-4o" not in ids
    assert "openai/gpt-4.1" not in ids
    assert "openai/gpt-4o-mini" in ids


def test_listing_prices_come_from_the_first_routable_endpoint(db, client):
    model = ModelFactory(slug="test/two-routes")
    EndpointFactory(model=model, priority=5, input_price=Decimal("7"))
    EndpointFactory(model=model, priority=1, input_price=Decimal("3"))
    (item,) = _list(client)["data"]
    assert item["pricing"]["prompt"] == "0.000003"


def test_model_detail_returns_its_entry(seeded, client):
    response = client.get("/api/v1/models/anthropic/claude-sonnet-4-5")
    assert response.status_code == 200
    item = response.json()
    assert item["id"] == "anthropic/claude-sonnet-4-5"
    assert item["pricing"]["prompt"] == "0.000003"
    jsonschema.validate(item, {**SCHEMA, "$ref": "#/$defs/Model"}, cls=jsonschema.Draft202012Validator)


def test_unknown_model_is_a_404_in_openais_error_shape(seeded, client):
    response = client.get("/api/v1/models/nobody/nothing")
    assert response.status_code == 404
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["code"] == "model_not_found"
    assert "nobody/nothing" in error["message"]


def test_writes_are_refused_in_openais_error_shape(seeded, client):
    response = client.post("/api/v1/models", data="{}", content_type="application/json")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_body_is_serialised_once_per_snapshot(seeded, client, settings, monkeypatch):
    settings.CATALOG_CACHE_SECONDS = 60
    from catalog import openrouter

    calls = []
    real = openrouter.model_item
    monkeypatch.setattr(openrouter, "model_item", lambda info: calls.append(info.slug) or real(info))
    first = client.get("/api/v1/models").content
    second = client.get("/api/v1/models").content
    assert first == second
    assert len(calls) == len(get_snapshot().models)


def test_a_price_change_shows_in_the_next_response(
    seeded, client, settings, django_capture_on_commit_callbacks
):
    settings.CATALOG_CACHE_SECONDS = 60  # only the version bump can make the change visible
    assert _list(client)["data"][0]  # snapshot built and memoised
    with django_capture_on_commit_callbacks(execute=True):
        endpoint = Endpoint.objects.get(model__slug="mock/echo")
        endpoint.input_price = Decimal("4.2")
        endpoint.save()
    listed = {m["id"]: m for m in _list(client)["data"]}
    assert listed["mock/echo"]["pricing"]["prompt"] == "0.0000042"


def test_openai_sdk_can_list_and_retrieve_models(live_server_url):
    import openai

    call_command("seed_catalog", stdout=StringIO())
    client = openai.OpenAI(base_url=f"{live_server_url}/api/v1", api_key="unused", max_retries=0)
    ids = {m.id for m in client.models.list()}
    assert "mock/echo" in ids
    assert client.models.retrieve("mock/echo").owned_by == "mock"
