"""Model names as people type them: bare upstream names, aliases, dated ids, any case, variants."""

import openai
import pytest

from billing.models import Generation
from catalog.models import ModelAlias
from catalog.services import NAMES_FILE, _seed_names, catalog_data
from catalog.snapshot import invalidate_local
from gateway.tests.conftest import chat


@pytest.fixture
def world(make_customer, make_mock_model, make_openai_model):
    make_openai_model()  # openai/gpt-4o-mini, upstream name gpt-4o-mini, on the fake OpenAI server
    make_mock_model()  # mock/echo, upstream name echo
    # Catalog ids of the shipped data, served offline by the mock adapter.
    make_mock_model(slug="anthropic/claude-sonnet-4-5", upstream_model="claude-sonnet-4-5-echo")
    make_mock_model(slug="anthropic/claude-opus-4-5", upstream_model="claude-opus-4-5-echo")
    make_mock_model(slug="openai/gpt-4o", upstream_model="gpt-4o-echo")
    make_mock_model(slug="google/gemini-2.5-flash", upstream_model="gemini-2.5-flash")
    make_mock_model(slug="other/echo", upstream_model="echo")  # makes the bare name "echo" ambiguous
    _seed_names(catalog_data(NAMES_FILE))
    invalidate_local()
    return make_customer()


@pytest.mark.parametrize(
    "typed, answered",
    [
        ("gpt-4o-mini", "openai/gpt-4o-mini"),  # curl's, and what openai-agents sends for openai/gpt-4o-mini
        ("GPT-4o-Mini", "openai/gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini"),
        ("claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),  # the id without its author
        ("claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-5"),
        ("claude-sonnet-4.5", "anthropic/claude-sonnet-4-5"),  # OpenRouter's spelling, an alias
        ("Anthropic/Claude-Sonnet-4.5", "anthropic/claude-sonnet-4-5"),
        ("gpt-4o-2024-08-06", "openai/gpt-4o"),
        ("gemini-2.5-flash", "google/gemini-2.5-flash"),
        ("models/gemini-2.5-flash", "google/gemini-2.5-flash"),
    ],
)
def test_typed_names_resolve_and_answer_with_the_catalog_id(world, call_api, typed, answered):
    result = call_api(chat(typed, text="hi there"), world.secret)

    assert result.status == 200, result.body
    assert result.json()["model"] == answered
    assert Generation.objects.get(id=result.json()["id"]).model_slug == answered


def test_retired_readme_model_is_a_404_naming_the_closest_current_model(world, call_api):
    before = world.balance()
    result = call_api(chat("claude-3-opus-20240229"), world.secret)

    assert result.status == 404
    error = result.json()["error"]
    assert error["code"] == "model_retired" and "anthropic/claude-opus-4-5" in error["message"]
    assert world.balance() == before and not Generation.objects.exists()


def test_ambiguous_bare_name_is_a_400_listing_the_candidates(world, call_api):
    result = call_api(chat("echo"), world.secret)

    assert result.status == 400
    message = result.json()["error"]["message"]
    assert "mock/echo" in message and "other/echo" in message


def test_unknown_name_is_still_a_404(world, call_api):
    result = call_api(chat("gpt-4o-mini-turbo-max"), world.secret)
    assert result.status == 404 and result.json()["error"]["code"] == "model_not_found"


def test_variants(world, call_api):
    for typed in ("mock/echo:nitro", "mock/echo:floor", "gpt-4o-mini:floor", "mock/echo:thinking"):
        result = call_api(chat(typed), world.secret)
        assert result.status == 200, (typed, result.body)
        assert result.json()["model"] == typed.split(":")[0].replace("gpt-4o-mini", "openai/gpt-4o-mini")

    result = call_api(chat("mock/echo:turbo"), world.secret)
    assert result.status == 400 and ":turbo" in result.json()["error"]["message"]


def test_aliases_edited_in_admin_apply_to_the_next_request(world, call_api):
    assert call_api(chat("my-fast-model"), world.secret).status == 404
    ModelAlias.objects.create(name="my-fast-model", model_id=_model_id("mock/echo"))
    result = call_api(chat("my-fast-model"), world.secret)
    assert result.status == 200 and result.json()["model"] == "mock/echo"


def test_allowlist_applies_to_the_resolved_model(world, call_api, make_customer):
    limited = make_customer(allowed_models=["mock/echo"])
    assert call_api(chat("gpt-4o-mini"), limited.secret).status == 403
    assert call_api(chat("MOCK/ECHO"), limited.secret).status == 200


def _model_id(slug: str) -> int:
    from catalog.models import Model

    return Model.objects.get(slug=slug).id


@pytest.mark.django_db(transaction=True)
def test_openai_sdk_with_a_bare_name(world, live_server_url):
    # openai-agents strips the provider prefix and sends "gpt-4o-mini" through this SDK.
    client = openai.OpenAI(base_url=f"{live_server_url}/api/v1", api_key=world.secret, max_retries=0)
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello from agents"}]
    )
    assert completion.model == "openai/gpt-4o-mini"
    assert completion.choices[0].message.content


def _routes_for(secret: str, typed: str, **params):
    from accounts.keyauth import authenticate
    from catalog.snapshot import get_snapshot
    from gateway.routing import routes
    from gateway.surfaces.chat.request import validate

    request = validate(chat(typed, **params))
    return request, routes.resolve(get_snapshot(), request, authenticate(secret))


@pytest.fixture
def two_providers(make_customer, make_mock_model):
    from catalog.models import Endpoint, Model, Provider
    from gateway.routing import observed

    make_mock_model(input_price="5", output_price="5")  # mock/echo on "mock", dear
    cheap = Provider.objects.create(slug="cheapo", name="Cheapo", protocol="mock")
    model = Model.objects.get(slug="mock/echo")
    model.supported_parameters = ["reasoning"]
    model.save()
    Endpoint.objects.create(model=model, provider=cheap, upstream_model="echo", priority=5)
    invalidate_local()
    observed.reset()
    yield make_customer().secret
    observed.reset()


def test_floor_and_nitro_reorder_the_endpoints(two_providers):
    from gateway.routing import observed

    _, plain = _routes_for(two_providers, "mock/echo")
    assert [r.endpoint.target.provider_slug for r in plain] == ["mock", "cheapo"]
    _, floor = _routes_for(two_providers, "mock/echo:floor")
    assert [r.endpoint.target.provider_slug for r in floor] == ["cheapo", "mock"]
    fast, slow = plain[1].endpoint.target.endpoint_id, plain[0].endpoint.target.endpoint_id
    observed.record_throughput(fast, 1000, 1.0)
    observed.record_throughput(slow, 10, 1.0)
    _, nitro = _routes_for(two_providers, "mock/echo:nitro")
    assert [r.endpoint.target.provider_slug for r in nitro] == ["cheapo", "mock"]


def test_thinking_turns_reasoning_on_unless_the_request_says(two_providers):
    request, _ = _routes_for(two_providers, "mock/echo:thinking")
    assert request.params["reasoning"] == {"enabled": True}
    request, _ = _routes_for(two_providers, "mock/echo:thinking", reasoning={"enabled": False})
    assert request.params["reasoning"] == {"enabled": False}
    request, _ = _routes_for(two_providers, "mock/echo")
    assert "reasoning" not in request.params


def test_a_megabyte_model_name_is_cut_in_the_404_and_the_log(make_customer, call_api, caplog):
    import logging

    customer = make_customer()
    name = "x" * 1_000_000
    with caplog.at_level(logging.INFO):
        result = call_api(chat(name), customer.secret)

    assert result.status == 404 and result.json()["error"]["code"] == "model_not_found"
    assert len(result.body) < 1_000 and "1000000 characters" in result.json()["error"]["message"]
    logged = [r for r in caplog.records if getattr(r, "model", None) is not None]
    assert logged and all(len(r.model) <= 200 for r in logged)
    assert all(len(r.getMessage()) < 1_000 for r in caplog.records)
