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


def test_model_endpoints_and_providers(sdk):
    _, client = sdk
    listed = client.endpoints.list(author="mock", slug="echo")
    assert listed.data.id == "mock/echo"
    assert [e.provider_name for e in listed.data.endpoints] == ["Mock"]
    assert listed.data.endpoints[0].pricing.completion == "0.000002"
    providers = client.providers.list()
    assert "mock" in [p.slug for p in providers.data]


def test_models_for_user_follow_the_key_allowlist(live_server_url, make_customer, make_mock_model):
    import httpx

    make_mock_model()
    make_mock_model(slug="mock/lorem", upstream_model="lorem")
    limited = make_customer(allowed_models=["mock/lorem"])
    everyone = make_customer()
    url = f"{live_server_url}/api/v1/models/user"
    ids = [m["id"] for m in httpx.get(url, headers=limited.headers).json()["data"]]
    assert ids == ["mock/lorem"]
    ids = [m["id"] for m in httpx.get(url, headers=everyone.headers).json()["data"]]
    assert ids == ["mock/echo", "mock/lorem"]
    assert httpx.get(url).status_code == 401


def test_models_filters(live_server_url, make_mock_model):
    import httpx

    from catalog.models import Model

    make_mock_model()
    make_mock_model(slug="mock/lorem", upstream_model="lorem")
    Model.objects.filter(slug="mock/lorem").update(supported_parameters=["tools", "temperature"])
    Model.objects.filter(slug="mock/echo").update(output_modalities=["image"])
    from catalog.snapshot import publish_change

    publish_change()
    url = f"{live_server_url}/api/v1/models"

    def ids(**params):
        return [m["id"] for m in httpx.get(url, params=params).json()["data"]]

    assert ids(supported_parameters="tools") == ["mock/lorem"]
    assert ids(supported_parameters="tools,temperature") == ["mock/lorem"]
    assert ids(supported_parameters="tools,seed") == []
    assert ids(output_modalities="image") == ["mock/echo"]
    assert ids(output_modalities="all") == ["mock/echo", "mock/lorem"]
