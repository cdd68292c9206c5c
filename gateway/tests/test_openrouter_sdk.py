"""The official ``openrouter`` Python SDK against a running PromptGrid (mock models)."""

import pytest
from openrouter import OpenRouter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(live_server_url, make_customer, make_mock_model):
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    with OpenRouter(api_key=customer.secret, server_url=f"{live_server_url}/api/v1") as client:
        yield customer, client


def test_chat_send_plain(sdk):
    _, client = sdk
    reply = client.chat.send(model="mock/echo", messages=[{"role": "user", "content": "Hello SDK"}])
    assert reply.choices[0].message.content == "Hello SDK"
    assert reply.model == "mock/echo"


def test_chat_send_streamed(sdk):
    _, client = sdk
    stream = client.chat.send(
        model="mock/echo", messages=[{"role": "user", "content": "one two three"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "one two three"


def test_credits(sdk):
    customer, client = sdk
    credits = client.credits.get_credits()
    assert credits.data.total_credits - credits.data.total_usage == pytest.approx(customer.balance() / 1e9)


# The SDK itself warns that fields it requires (is_provisioning_key, rate_limit) are deprecated.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_key_metadata(sdk):
    _, client = sdk
    meta = client.api_keys.get_current_key_metadata()
    assert meta.data.label and meta.data.usage == 0 and meta.data.limit is None


def test_generation(sdk):
    _, client = sdk
    reply = client.chat.send(model="mock/echo", messages=[{"role": "user", "content": "Hello SDK"}])
    generation = client.generations.get_generation(id=reply.id)
    assert generation.data.id == reply.id
    assert generation.data.model == "mock/echo"
    assert generation.data.total_cost > 0


def test_models_list(sdk):
    _, client = sdk
    listed = client.models.list()
    model = next(m for m in listed.result.data if m.id == "mock/echo")
    assert model.pricing.prompt == "0.000001"


def test_auth_key_is_an_alias_of_key(sdk, live_server_url):
    import httpx

    customer, _ = sdk
    headers = {"Authorization": f"Bearer {customer.secret}"}
    old = httpx.get(f"{live_server_url}/api/v1/auth/key", headers=headers).json()
    new = httpx.get(f"{live_server_url}/api/v1/key", headers=headers).json()
    assert old == new and old["data"]["label"]
