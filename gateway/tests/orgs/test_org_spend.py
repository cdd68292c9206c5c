"""Spending an organisation's balance through its keys, with the official ``openai`` SDK.

A key made in an organisation spends the organisation's account (not its member's personal
one), its Generation is the member's, and the member's budget is enforced with the hold.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from accounts.organisations import services as orgs
from billing.audit import ledger_audit
from billing.models import Generation
from gateway.tests.orgs.world import make_org

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(make_mock_model):
    make_mock_model(input_price="1", output_price="2")  # USD per million tokens
    return make_org(credits_nanos=1_000_000_000)


def _client(base: str, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/api/v1", api_key=secret, max_retries=0)


def _ask(client: openai.OpenAI, text: str = "hello team", **kwargs):
    return client.chat.completions.create(
        model="mock/echo", messages=[{"role": "user", "content": text}], max_tokens=50, **kwargs
    )


def test_an_organisation_key_spends_the_organisation_balance_as_its_member(world, live_server_url):
    dev = world.add("dev")
    personal = dev.user.credit_account.balance_nanos
    before = world.balance()

    reply = _ask(_client(live_server_url, dev.secret))

    generation = Generation.objects.get(pk=reply.id)
    assert generation.user_id == dev.user.pk and generation.api_key_id == dev.key.pk
    assert generation.cost_nanos > 0
    assert world.balance() == before - generation.cost_nanos  # exact to the nano
    dev.user.credit_account.refresh_from_db()
    assert dev.user.credit_account.balance_nanos == personal  # the personal account is untouched
    membership = dev.membership(world.organisation)
    assert (membership.usage_nanos, membership.held_nanos) == (generation.cost_nanos, 0)
    assert ledger_audit() == []


def test_a_member_past_their_budget_gets_a_clear_402_and_nothing_is_charged(world, live_server_url):
    dev = world.add("dev", limit_nanos=2_000)  # $0.000002: less than one answer's worst case
    before = world.balance()

    with pytest.raises(openai.APIStatusError) as refused:
        _ask(_client(live_server_url, dev.secret))

    assert refused.value.status_code == 402
    assert refused.value.body["code"] == "member_budget_reached"
    assert "budget in this organisation" in refused.value.body["message"]
    assert world.balance() == before
    assert not Generation.objects.exists()


def test_raising_the_budget_lets_the_member_spend_again(world, live_server_url):
    dev = world.add("dev", limit_nanos=2_000)
    client = _client(live_server_url, dev.secret)
    with pytest.raises(openai.APIStatusError):
        _ask(client)

    orgs.member_set(organisation=world.organisation, user=dev.user, limit_nanos=1_000_000)

    assert _ask(client).choices[0].message.content == "hello team"


def test_the_members_share_one_balance(world, live_server_url):
    first, second = world.add("first"), world.add("second")
    before = world.balance()

    costs = [
        Generation.objects.get(pk=_ask(_client(live_server_url, member.secret)).id).cost_nanos
        for member in (first, second, first)
    ]

    assert world.balance() == before - sum(costs)
    assert first.membership(world.organisation).usage_nanos == costs[0] + costs[2]
    assert second.membership(world.organisation).usage_nanos == costs[1]


def test_an_organisation_model_allowlist_limits_every_key(world, live_server_url, make_mock_model):
    make_mock_model(slug="mock/other", upstream_model="echo")
    dev = world.add("dev")
    orgs.organisation_update(organisation=world.organisation, allowed_models=["mock/other"])

    with pytest.raises(openai.APIStatusError) as refused:
        _ask(_client(live_server_url, dev.secret))
    assert refused.value.status_code in (403, 404)
    reply = _client(live_server_url, dev.secret).chat.completions.create(
        model="mock/other", messages=[{"role": "user", "content": "ok"}], max_tokens=5
    )
    assert reply.choices[0].message.content


def test_a_member_allowlist_limits_that_member_only(world, live_server_url, make_mock_model):
    make_mock_model(slug="mock/other", upstream_model="echo")
    dev, other = world.add("dev", allowed_models=["mock/other"]), world.add("other")

    with pytest.raises(openai.APIStatusError):
        _ask(_client(live_server_url, dev.secret))
    assert _ask(_client(live_server_url, other.secret)).choices[0].message.content


def test_a_removed_member_s_keys_stop_at_once(world, live_server_url):
    dev = world.add("dev")
    client = _client(live_server_url, dev.secret)
    _ask(client)

    orgs.member_remove(organisation=world.organisation, user=dev.user)

    with pytest.raises(openai.AuthenticationError):
        _ask(client)
    dev.key.refresh_from_db()
    assert dev.key.revoked_at is not None


def test_key_and_credits_answer_for_the_organisation(world, live_server_url):
    dev = world.add("dev")
    _ask(_client(live_server_url, dev.secret))

    key = httpx.get(f"{live_server_url}/api/v1/key", headers=dev.headers).json()["data"]
    credits = httpx.get(f"{live_server_url}/api/v1/credits", headers=dev.headers).json()["data"]

    assert key["organization_id"] == world.organisation.slug
    spent = Generation.objects.get().cost_nanos
    assert credits["total_credits"] == 1.0
    assert round(credits["total_usage"] * 1e9) == spent


def test_keys_api_lists_the_context_s_keys(world, live_server_url):
    from accounts.services import api_key_create

    dev = world.add("dev")
    admin = world.add("admin", role="admin")
    _, dev_manager = api_key_create(
        user=dev.user, name="dev manager", kind="management", organisation_id=world.organisation.pk
    )
    _, admin_manager = api_key_create(
        user=admin.user, name="admin manager", kind="management", organisation_id=world.organisation.pk
    )
    _, personal_manager = api_key_create(user=dev.user, name="mine", kind="management")

    def names(secret: str) -> set[str]:
        answer = httpx.get(f"{live_server_url}/api/v1/keys", headers={"Authorization": f"Bearer {secret}"})
        return {key["name"] for key in answer.json()["data"]}

    assert names(dev_manager) == {"dev key", "dev manager"}
    assert names(admin_manager) == {"owner key", "dev key", "dev manager", "admin key", "admin manager"}
    assert names(personal_manager) == {"mine"}
    # A member cannot reach another member's key in the organisation by its id.
    other = httpx.get(
        f"{live_server_url}/api/v1/keys/{admin.key.pk}", headers={"Authorization": f"Bearer {dev_manager}"}
    )
    assert other.status_code == 404
    created = httpx.post(
        f"{live_server_url}/api/v1/keys",
        headers={"Authorization": f"Bearer {dev_manager}"},
        json={"name": "made by api"},
    )
    assert created.status_code == 201
    from accounts.models import ApiKey

    assert ApiKey.objects.get(name="made by api").organisation_id == world.organisation.pk


def test_a_member_removed_by_another_process_is_refused_before_its_key_cache_expires(
    world, live_server_url, settings
):
    settings.AUTH_CACHE_SECONDS = 60  # this process keeps trusting its cached key lookup
    dev = world.add("dev")
    client = _client(live_server_url, dev.secret)
    _ask(client)
    before = world.balance()

    # Another process removes the member: this one's key cache is not told.
    from accounts.organisations.models import Membership

    Membership.objects.filter(user=dev.user).delete()

    with pytest.raises(openai.APIStatusError) as refused:
        _ask(client)
    assert refused.value.status_code == 402 and refused.value.body["code"] == "not_a_member"
    assert world.balance() == before
