"""Embeddings of OpenAI and Gemini models through the official SDKs (openai, openrouter), served by
the running ASGI app against the fake upstreams, billed from the provider's reported tokens."""

from __future__ import annotations

import base64
import struct
from decimal import Decimal

import openai
import pytest
from django.core.management import call_command
from openrouter import OpenRouter

from billing.models import Generation
from tests.fakes import gemini_server, openai_server
from tests.fixtures import create_model

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(live_server_url, make_customer, openai_upstream, gemini_upstream):
    create_model(
        slug="openai/text-embedding-3-small",
        provider_slug="openai",
        protocol="openai",
        upstream_model="text-embedding-3-small",
        base_url=f"{openai_upstream.url}/v1",
        api_key="sk-test-fake-key-1234",
        input_price="0.02",
        context_length=8191,
        output_modalities=["embeddings"],
    )
    create_model(
        slug="google/gemini-embedding-001",
        provider_slug="google",
        protocol="google",
        upstream_model="gemini-embedding-001",
        base_url=gemini_upstream.url,
        api_key="gm-test-fake-key-5678",
        input_price="0.15",
        context_length=2048,
        output_modalities=["embeddings"],
    )
    customer = make_customer()
    client = openai.OpenAI(
        base_url=f"{live_server_url}/api/v1", api_key=customer.secret, max_retries=0, timeout=20
    )
    yield customer, client, openai_upstream, gemini_upstream, live_server_url
    client.close()


def _nanos(cost: float) -> int:
    return int(Decimal(str(cost)) * 10**9)


def test_openai_model_through_the_openai_sdk_is_billed_from_the_reported_tokens(world):
    customer, client, upstream, _, _ = world
    # What OpenAI says it counted (its tokenizer, not the gateway's estimate of 5; within the hold's
    # bound of 17, the inputs' UTF-8 bytes).
    upstream.push({"kind": "normal", "prompt_tokens": 9})
    before = customer.balance()

    raw = client.embeddings.with_raw_response.create(
        model="openai/text-embedding-3-small", input=["hello world", "second"], dimensions=64, user="u-1"
    )
    response = raw.parse()

    assert [d.embedding for d in response.data] == [
        openai_server.embedding_for("hello world", 64),
        openai_server.embedding_for("second", 64),
    ]
    assert response.model == "openai/text-embedding-3-small"
    assert response.usage.prompt_tokens == response.usage.total_tokens == 9
    assert before - customer.balance() == _nanos(response.usage.model_extra["cost"]) == 9 * 20
    assert customer.held() == 0
    sent = upstream.requests[-1]
    assert sent.path == "/v1/embeddings"
    assert sent.json["model"] == "text-embedding-3-small" and sent.json["encoding_format"] == "base64"
    assert sent.json["input"] == ["hello world", "second"] and sent.json["dimensions"] == 64
    gen = Generation.objects.get(pk=raw.headers["x-generation-id"])
    assert (gen.api, gen.provider_slug, gen.prompt_tokens, gen.cost_nanos) == (
        "embeddings",
        "openai",
        9,
        180,
    )
    call_command("audit_ledger")


def test_openai_model_takes_token_arrays_and_answers_base64_when_asked(world):
    _, client, upstream, _, _ = world

    response = client.embeddings.create(
        model="openai/text-embedding-3-small", input=[[9906, 1917], [1, 2, 3]], encoding_format="base64"
    )

    raw = base64.b64decode(response.data[1].embedding)
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == openai_server.embedding_for([1, 2, 3])
    assert response.usage.prompt_tokens == 5
    assert upstream.requests[-1].json["input"] == [[9906, 1917], [1, 2, 3]]


def test_gemini_model_through_the_openai_sdk_calls_batch_embed_contents(world):
    customer, client, _, gemini, _ = world
    before = customer.balance()

    response = client.embeddings.create(
        model="google/gemini-embedding-001", input=["hello world", "a second text"], dimensions=32
    )

    assert [d.embedding for d in response.data] == [
        gemini_server.embedding_for("hello world", 32),
        gemini_server.embedding_for("a second text", 32),
    ]
    # usageMetadata.promptTokenCount: 3 + 4 tokens at $0.15 per million.
    assert response.usage.prompt_tokens == 7
    assert before - customer.balance() == _nanos(response.usage.model_extra["cost"]) == 7 * 150
    sent = gemini.requests[-1]
    assert sent.path.endswith("/models/gemini-embedding-001:batchEmbedContents")
    requests = gemini_server.normalise(sent.json)["requests"]
    assert [r["content"]["parts"][0]["text"] for r in requests] == ["hello world", "a second text"]
    call_command("audit_ledger")


def test_gemini_model_refuses_token_arrays_before_any_hold(world):
    customer, client, _, gemini, _ = world
    before = customer.balance()

    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="google/gemini-embedding-001", input=[[1, 2, 3]])

    assert "text only" in caught.value.message
    assert customer.balance() == before and not gemini.requests
    assert not Generation.objects.exists()


def test_an_upstream_failure_is_its_error_with_nothing_charged(world):
    customer, client, upstream, _, _ = world
    upstream.push("auth", "auth")
    before = customer.balance()

    with pytest.raises(openai.APIStatusError) as caught:
        client.embeddings.create(model="openai/text-embedding-3-small", input="hello")

    assert caught.value.status_code == 502
    assert "sk-test-fake" not in caught.value.message  # the provider's text may quote our credential
    assert customer.balance() == before and customer.held() == 0
    gen = Generation.objects.get()
    assert (gen.api, gen.status, gen.cost_nanos) == ("embeddings", "error", 0)


@pytest.mark.parametrize(
    ("model", "tokens", "price"),
    [
        ("openai/text-embedding-3-small", 3, 20),
        ("google/gemini-embedding-001", 3, 150),
        ("mock/embed", 3, 100),
    ],
)
def test_openrouter_sdk_embeddings_generate(world, make_mock_model, model, tokens, price):
    customer, _, _, _, url = world
    make_mock_model(
        slug="mock/embed", upstream_model="embed", input_price="0.1", output_modalities=["embeddings"]
    )
    before = customer.balance()

    with OpenRouter(api_key=customer.secret, server_url=f"{url}/api/v1") as sdk:
        response = sdk.embeddings.generate(model=model, input="hello world", encoding_format="float")

    assert response.model == model and response.object == "list"
    assert len(response.data) == 1 and isinstance(response.data[0].embedding, list)
    assert response.usage.prompt_tokens == tokens
    assert before - customer.balance() == _nanos(response.usage.cost) == tokens * price


def test_the_hold_bounds_the_input_by_bytes_so_a_dense_tokenizer_is_still_charged_in_full(world, monkeypatch):
    """Three CJK characters are nine UTF-8 bytes and, to a real tokenizer, up to three tokens,
    though the gateway's estimate says one. A hold sized by the estimate would stop the charge
    short (an over_hold Shortfall); the byte bound covers what the provider counts."""
    from billing.models import Shortfall
    from gateway.surfaces.embeddings.request import EmbeddingsRequest

    customer, client, upstream, _, _ = world

    def charged(tokens: int) -> int:
        upstream.push({"kind": "normal", "prompt_tokens": tokens})
        before = customer.balance()
        client.embeddings.create(model="openai/text-embedding-3-small", input="日本語")
        return before - customer.balance()

    # The protection off: the hold sized by the estimate (1 token) instead of the bytes (9).
    with monkeypatch.context() as patch:
        patch.setattr(EmbeddingsRequest, "token_bound", lambda self, cap: sum(self.token_estimates()))
        assert charged(3) == 1 * 20  # two tokens went unpaid
        assert Shortfall.objects.get().amount_nanos == 2 * 20
    assert charged(3) == 3 * 20  # the byte bound: paid in full
    assert Shortfall.objects.count() == 1


def test_gemini_refusing_the_request_is_a_400_with_nothing_charged(world):
    customer, client, _, gemini, _ = world
    gemini.push("invalid")
    before = customer.balance()

    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="google/gemini-embedding-001", input="hello")

    assert "Google Gemini" in caught.value.message
    assert customer.balance() == before and customer.held() == 0
    assert Generation.objects.get().status == "error"


@pytest.mark.parametrize("model", ["openai/text-embedding-3-small", "google/gemini-embedding-001"])
def test_a_provider_reporting_no_usage_is_charged_the_gateways_count(world, model):
    customer, client, upstream, gemini, _ = world
    (upstream if model.startswith("openai") else gemini).push("no_usage")
    before = customer.balance()

    response = client.embeddings.create(model=model, input="hello world")  # 11 characters: 3 tokens

    price = 20 if model.startswith("openai") else 150
    assert response.usage.prompt_tokens == 3
    assert before - customer.balance() == 3 * price


def test_openrouters_input_type_reaches_gemini_as_its_task_type_and_openai_not_at_all(world):
    customer, _, upstream, gemini, url = world

    with OpenRouter(api_key=customer.secret, server_url=f"{url}/api/v1") as sdk:
        sdk.embeddings.generate(model="google/gemini-embedding-001", input="q", input_type="search_query")
        sdk.embeddings.generate(model="openai/text-embedding-3-small", input="q", input_type="search_query")

    [request] = gemini_server.normalise(gemini.requests[-1].json)["requests"]
    task = request.get("taskType") or request.get("embedContentConfig", {}).get("taskType")
    assert task == "RETRIEVAL_QUERY"
    assert "input_type" not in upstream.requests[-1].json
