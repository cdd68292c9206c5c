"""POST /api/v1/embeddings on the offline mock model: the request's shapes, the money, the refusals."""

from __future__ import annotations

import base64
import struct
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from billing.models import Generation
from gateway.providers.mock import EMBED_DIMENSIONS, embedding_of

pytestmark = pytest.mark.django_db

PATH = "/api/v1/embeddings"
# OpenRouter's shapes as the OpenAPI document serves them (read as data: gateway may not import the wiring).
OPENROUTER_FRAGMENT = (
    Path(__file__).resolve().parents[3] / "promptgrid" / "openapi_specs" / "openrouter_api.json"
)


@pytest.fixture
def customer(make_customer, make_mock_model):
    make_mock_model(
        slug="mock/embed",
        upstream_model="embed",
        input_price="0.1",
        output_modalities=["embeddings"],
        context_length=8192,
    )
    make_mock_model(input_price="1", output_price="2")  # mock/echo, a chat model
    return make_customer()


def embed(call_api, customer, **body):
    body.setdefault("model", "mock/embed")
    return call_api(body, customer.secret, path=PATH)


def test_a_list_of_strings_gets_one_deterministic_vector_each_billed_to_the_nano(customer, call_api):
    before = customer.balance()

    result = embed(call_api, customer, input=["hello world", "a second, longer input text"])

    assert result.status == 200, result.body
    body = result.json()
    assert body["object"] == "list" and body["model"] == "mock/embed"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(d["object"] == "embedding" for d in body["data"])
    assert body["data"][0]["embedding"] == embedding_of("hello world")
    assert len(body["data"][1]["embedding"]) == EMBED_DIMENSIONS
    # 11 characters -> 3 tokens, 27 -> 7 (one per four characters); $0.10 per million.
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] == 10
    assert before - customer.balance() == 10 * 100 == int(Decimal(str(body["usage"]["cost"])) * 10**9)
    assert customer.held() == 0
    gen = Generation.objects.get(pk=body["id"])
    assert result.headers["x-generation-id"] == gen.id
    assert (gen.api, gen.status, gen.prompt_tokens, gen.completion_tokens, gen.cost_nanos) == (
        "embeddings",
        "success",
        10,
        0,
        1000,
    )
    call_command("audit_ledger")  # raises on any ledger violation


def test_the_same_text_gets_the_same_unit_vector_and_different_texts_differ(customer, call_api):
    first = embed(call_api, customer, input="same text").json()["data"][0]["embedding"]
    again = embed(call_api, customer, input="same text").json()["data"][0]["embedding"]
    other = embed(call_api, customer, input="other text").json()["data"][0]["embedding"]

    assert first == again != other
    assert abs(sum(v * v for v in first) - 1) < 1e-5


def test_base64_is_little_endian_float32_of_the_same_vector(customer, call_api):
    result = embed(call_api, customer, input="hello world", encoding_format="base64")

    encoded = result.json()["data"][0]["embedding"]
    raw = base64.b64decode(encoded)
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == embedding_of("hello world")


def test_dimensions_shortens_the_vector(customer, call_api):
    result = embed(call_api, customer, input="hello", dimensions=8)

    assert result.json()["data"][0]["embedding"] == embedding_of("hello", 8)


def test_token_arrays_cost_their_length(customer, call_api):
    before = customer.balance()

    one = embed(call_api, customer, input=[1, 2, 3, 4, 5])
    many = embed(call_api, customer, input=[[1, 2], [3, 4, 5, 6]])

    assert one.status == many.status == 200
    assert one.json()["usage"]["prompt_tokens"] == 5 and len(one.json()["data"]) == 1
    assert many.json()["usage"]["prompt_tokens"] == 6 and len(many.json()["data"]) == 2
    assert before - customer.balance() == (5 + 6) * 100


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({}, "input", "required"),
        ({"input": ""}, "input[0]", "empty string"),
        ({"input": []}, "input", "must not be empty"),
        ({"input": [[]]}, "input[0]", "empty token array"),
        ({"input": 42}, "input", "expected a string or an array"),
        ({"input": ["ok", 7]}, "input[1]", "expected a string"),
        ({"input": [[1, 2], "text"]}, "input[1]", "token array"),
        ({"input": [1, "x"]}, "input[1]", "token id"),
        ({"input": [1, -1]}, "input[1]", "token id"),
        ({"input": [{"content": [{"type": "text", "text": "x"}]}]}, "input[0]", "multimodal"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format", "float or base64"),
        ({"input": "x", "dimensions": 0}, "dimensions", "between 1 and"),
        ({"input": "x", "dimensions": "8"}, "dimensions", "between 1 and"),
        ({"input": "x", "user": 5}, "user", "expected a string"),
        ({"input": "x", "user": "u" * 257}, "user", "longer than 256"),
        ({"input": "x", "model": ""}, "model", "non-empty"),
    ],
)
def test_bad_input_is_a_clear_400_with_nothing_charged(customer, call_api, body, param, words):
    before = customer.balance()

    result = embed(call_api, customer, **body)

    assert result.status == 400, result.body
    error = result.json()["error"]
    assert error["param"] == param and words in error["message"]
    assert customer.balance() == before and not Generation.objects.exists()


def test_too_many_inputs_is_a_400_naming_the_limit(customer, call_api, settings):
    settings.EMBEDDINGS_MAX_INPUTS = 3

    result = embed(call_api, customer, input=["a", "b", "c", "d"])

    assert result.status == 400
    assert result.json()["error"]["message"] == "'input' has 4 items; at most 3 are allowed."


def test_a_chat_model_is_refused_at_embeddings_and_an_embedding_model_at_chat(customer, call_api):
    at_embeddings = embed(call_api, customer, model="mock/echo", input="hi")
    at_chat = call_api(
        {"model": "mock/embed", "messages": [{"role": "user", "content": "hi"}]}, customer.secret
    )

    assert at_embeddings.status == at_chat.status == 400
    assert "is not an embedding model" in at_embeddings.json()["error"]["message"]
    assert "/api/v1/embeddings" in at_chat.json()["error"]["message"]
    assert not Generation.objects.exists()


def test_a_balance_that_cannot_pay_for_the_input_is_a_402_and_nothing_is_charged(
    make_customer, customer, call_api
):
    poor = make_customer(credits_nanos=500)  # the input's bound: 40 bytes at $0.10/M = 4000 nanos

    result = embed(call_api, poor, input="x" * 40)

    assert result.status == 402
    assert "cannot cover this request's input" in result.json()["error"]["message"]
    assert poor.balance() == 500 and poor.held() == 0
    assert not Generation.objects.exists()


def test_the_hold_covers_the_input_bound_and_settlement_charges_the_counted_tokens(
    make_customer, customer, call_api
):
    # 40 bytes bound the input at 40 tokens (4000 nanos); the mock counts 10 (1000 nanos).
    just_enough = make_customer(credits_nanos=4000)

    result = embed(call_api, just_enough, input="x" * 40)

    assert result.status == 200
    assert just_enough.balance() == 3000 and just_enough.held() == 0


def test_the_key_allowlist_and_spend_limit_apply(make_customer, customer, call_api):
    limited = make_customer(allowed_models=["mock/echo"])
    capped = make_customer(limit_nanos=100)

    refused = embed(call_api, limited, input="hello")
    over = embed(call_api, capped, input="hello world, this is more than the key may spend")

    assert refused.status == 403 and refused.json()["error"]["code"] == "model_not_allowed"
    assert over.status == 402 and "spend limit" in over.json()["error"]["message"]


def test_the_bare_upstream_name_and_a_wrong_method_answer_as_elsewhere(customer, call_api):
    assert embed(call_api, customer, model="embed", input="hi").status == 200
    wrong = call_api(None, customer.secret, path=PATH, method="get")
    assert wrong.status == 405


def test_embeddings_models_lists_only_embedding_models(customer, client):
    listed = client.get("/api/v1/embeddings/models").json()

    assert [m["id"] for m in listed["data"]] == ["mock/embed"]
    assert listed["data"][0]["architecture"]["output_modalities"] == ["embeddings"]


def test_an_input_past_the_models_input_limit_is_a_400_before_any_hold(customer, call_api):
    before = customer.balance()

    result = embed(call_api, customer, input=["short", "x" * (4 * 8192 + 4)])  # mock/embed: 8192 here

    assert result.status == 400
    error = result.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["param"] == "input[1]"
    assert customer.balance() == before and customer.held() == 0 and not Generation.objects.exists()


def test_a_warm_request_makes_two_database_calls_hold_and_settle(customer, call_api, monkeypatch, settings):
    """Attribution and the end user are columns of the same settlement, not calls of their own."""
    from gateway.pipeline import auth, holds, settlement
    from gateway.routing import routes

    settings.AUTH_CACHE_SECONDS = settings.CATALOG_CACHE_SECONDS = 60  # warm stays warm on a slow machine
    body = {"model": "mock/embed", "input": ["a", "b"], "user": "end-user-1"}
    headers = {"HTTP-Referer": "https://app.example/", "X-Title": "App"}
    assert call_api(body, customer.secret, path=PATH, extra=headers).status == 200  # warms the caches
    hops: list[str] = []

    def counting(module):
        real = module.db_call

        async def db_call(fn, *args, **kwargs):
            hops.append(module.__name__)
            return await real(fn, *args, **kwargs)

        return db_call

    for module in (auth, routes, holds, settlement):
        monkeypatch.setattr(module, "db_call", counting(module))

    assert call_api(body, customer.secret, path=PATH, extra=headers).status == 200

    assert hops == ["gateway.pipeline.holds", "gateway.pipeline.settlement"]
    latest = Generation.objects.order_by("-created_at").first()
    assert (latest.app_title, latest.app_referer, latest.end_user) == (
        "App",
        "https://app.example/",
        "end-user-1",
    )


@pytest.mark.parametrize("encoding_format", ["float", "base64"])
def test_the_answer_validates_against_openrouters_embeddings_schema(customer, call_api, encoding_format):
    import json

    import jsonschema

    fragment = json.loads(OPENROUTER_FRAGMENT.read_text())
    ok = fragment["paths"]["/embeddings"]["post"]["responses"]["200"]["content"]["application/json"]
    schema = {**ok["schema"], "components": fragment["components"]}

    result = embed(call_api, customer, input=["one", "two"], encoding_format=encoding_format)

    jsonschema.validate(result.json(), schema, cls=jsonschema.Draft202012Validator)
