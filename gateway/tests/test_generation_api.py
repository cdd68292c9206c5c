import pytest

from accounts.models import UserSettings
from billing.models import Generation
from gateway.tests.conftest import chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(make_customer, make_mock_model):
    make_mock_model(input_price="1", output_price="2")
    return make_customer()


def _stats(call_api, secret, generation_id):
    return call_api({"id": generation_id}, secret, path="/api/v1/generation", method="get")


def test_owner_reads_the_generation_stats(customer, call_api):
    answer = call_api(chat(text="stats please"), customer.secret).json()

    result = _stats(call_api, customer.secret, answer["id"])

    assert result.status == 200
    data = result.json()["data"]
    assert data["id"] == answer["id"]
    assert data["model"] == "mock/echo" and data["provider_name"] == "Mock"
    assert data["tokens_prompt"] == answer["usage"]["prompt_tokens"]
    assert data["tokens_completion"] == answer["usage"]["completion_tokens"]
    assert data["total_cost"] == answer["usage"]["cost"]
    assert data["finish_reason"] == "stop" and data["streamed"] is False and data["cancelled"] is False


def test_another_key_of_the_same_user_may_read_it(customer, call_api):
    from accounts.services import api_key_create

    answer = call_api(chat(), customer.secret).json()
    _, other_secret = api_key_create(user=customer.user, name="second")
    assert _stats(call_api, other_secret, answer["id"]).status == 200


def test_someone_elses_generation_is_404(customer, make_customer, call_api):
    answer = call_api(chat(), customer.secret).json()
    stranger = make_customer()
    result = _stats(call_api, stranger.secret, answer["id"])
    assert result.status == 404 and result.json()["error"]["param"] == "id"


def test_generation_needs_a_key_and_an_id(customer, call_api):
    assert _stats(call_api, None, "gen-x").status == 401
    assert call_api({}, customer.secret, path="/api/v1/generation", method="get").status == 400


def test_prompts_are_stored_only_when_the_user_turned_logging_on(customer, call_api):
    first = call_api(chat(text="private words"), customer.secret).json()
    assert Generation.objects.get(pk=first["id"]).prompt_text is None

    UserSettings.objects.update_or_create(user=customer.user, defaults={"log_prompts": True})
    second = call_api(chat(text="logged words", stream=True), customer.secret)
    gen = Generation.objects.get(pk=second.chunks[-1]["id"])
    assert gen.prompt_text == [{"role": "user", "content": "logged words"}]
    assert gen.completion_text == "logged words"
