"""The official openai SDK's ``client.embeddings.create`` against the running server (ASGI)."""

from __future__ import annotations

from decimal import Decimal

import openai
import pytest

from billing.models import Generation
from gateway.providers.mock import embedding_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(live_server_url, make_customer, make_mock_model):
    make_mock_model(
        slug="mock/embed", upstream_model="embed", input_price="0.1", output_modalities=["embeddings"]
    )
    customer = make_customer()
    client = openai.OpenAI(
        base_url=f"{live_server_url}/api/v1", api_key=customer.secret, max_retries=0, timeout=20
    )
    yield customer, client
    client.close()


def _nanos(usage) -> int:
    return int(Decimal(str(usage.model_extra["cost"])) * 10**9)


@pytest.mark.parametrize("encoding_format", [None, "float", "base64"])
def test_sdk_embeddings_on_the_mock_model_are_its_vectors_and_billed_to_the_nano(world, encoding_format):
    customer, client = world
    before = customer.balance()
    extra = {} if encoding_format is None else {"encoding_format": encoding_format}

    # Without encoding_format the SDK asks for base64 and decodes it itself.
    raw = client.embeddings.with_raw_response.create(
        model="mock/embed", input=["hello world", "second"], **extra
    )
    response = raw.parse()

    vectors = [d.embedding for d in response.data]
    if encoding_format == "base64":  # asked for explicitly, the SDK hands the string over as it came
        assert all(isinstance(v, str) for v in vectors)
    else:
        assert vectors == [embedding_of("hello world"), embedding_of("second")]
    assert response.model == "mock/embed"
    assert response.usage.prompt_tokens == response.usage.total_tokens == 3 + 2
    assert before - customer.balance() == _nanos(response.usage) == 5 * 100
    gen = Generation.objects.get(pk=raw.headers["x-generation-id"])
    assert gen.api == "embeddings" and gen.cost_nanos == 500


def test_sdk_sees_bad_input_as_a_bad_request_error(world):
    _, client = world

    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="mock/embed", input="")

    assert caught.value.body["param"] == "input[0]"
