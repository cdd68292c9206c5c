"""App attribution (HTTP-Referer, X-Title, X-OpenRouter-Title) and the request's ``user``: recorded
on the Generation, returned by /generation, filterable in Activity; providers see only a hash."""

from __future__ import annotations

import httpx
import openai
import pytest
from django.test import Client
from openrouter import OpenRouter

from billing.models import Generation
from gateway.pipeline.attribution import upstream_user

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def world(live_server_url, make_customer, make_mock_model, make_openai_model):
    make_mock_model()
    make_mock_model(
        slug="mock/embed", upstream_model="embed", input_price="0.1", output_modalities=["embeddings"]
    )
    make_openai_model()
    return make_customer(), f"{live_server_url}/api/v1"


def _client(url: str, secret: str, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=secret, max_retries=0, timeout=20, default_headers=headers)


def test_openai_sdk_headers_and_user_are_recorded_and_returned_by_generation(world):
    customer, url = world
    client = _client(url, customer.secret, **{"HTTP-Referer": "https://myapp.example/", "X-Title": "My App"})

    reply = client.chat.completions.create(model="mock/echo", messages=HELLO, user="alice@example.com")

    gen = Generation.objects.get(pk=reply.id)
    assert (gen.app_referer, gen.app_title, gen.end_user) == (
        "https://myapp.example/",
        "My App",
        "alice@example.com",
    )
    with OpenRouter(api_key=customer.secret, server_url=url) as sdk:
        stats = sdk.generations.get_generation(id=reply.id).data
    assert stats.http_referer == "https://myapp.example/" and stats.external_user == "alice@example.com"
    raw = httpx.get(
        f"{url}/generation", params={"id": reply.id}, headers={"Authorization": f"Bearer {customer.secret}"}
    )
    assert raw.json()["data"]["app_title"] == "My App"


def test_openrouter_sdk_title_header_wins_over_the_older_x_title(world):
    customer, url = world
    with OpenRouter(
        api_key=customer.secret,
        server_url=url,
        http_referer="https://agent.example",
        x_open_router_title="Agent",
    ) as sdk:
        reply = sdk.chat.send(model="mock/echo", messages=HELLO, http_headers={"X-Title": "Old name"})
        vectors = sdk.embeddings.generate(model="mock/embed", input="hi", user="bob")

    chat = Generation.objects.get(pk=reply.id)
    assert (chat.app_referer, chat.app_title) == ("https://agent.example", "Agent")
    embedded = Generation.objects.get(api="embeddings")
    assert (embedded.app_title, embedded.end_user) == ("Agent", "bob") and vectors.data


def test_a_request_without_attribution_records_none(world):
    customer, url = world

    reply = _client(url, customer.secret).chat.completions.create(model="mock/echo", messages=HELLO)

    gen = Generation.objects.get(pk=reply.id)
    assert (gen.app_referer, gen.app_title, gen.end_user) == ("", "", "")


def test_providers_see_the_user_only_as_a_keyed_hash_stable_per_account(
    world, make_customer, openai_upstream
):
    customer, url = world
    other = make_customer()
    for secret in (customer.secret, customer.secret, other.secret):
        _client(url, secret).chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO, user="alice")

    sent = [r.json["user"] for r in openai_upstream.requests]
    assert sent[0] == sent[1] == upstream_user(customer.user.pk, "alice")
    assert sent[2] != sent[0]  # another account's "alice" is not linkable to this one's
    assert all("alice" not in value and value.startswith("pgu-") for value in sent)
    assert Generation.objects.filter(end_user="alice").count() == 3


def test_a_safety_identifier_reaches_the_provider_only_as_the_same_keyed_hash(world, openai_upstream):
    customer, url = world

    _client(url, customer.secret).chat.completions.create(
        model="openai/gpt-4o-mini", messages=HELLO, safety_identifier="alice@example.com"
    )

    sent = openai_upstream.requests[-1].json["safety_identifier"]
    assert sent == upstream_user(customer.user.pk, "alice@example.com")


def test_embeddings_user_reaches_openai_hashed(world, openai_upstream, make_openai_model):
    customer, url = world
    make_openai_model(
        slug="openai/text-embedding-3-small",
        upstream_model="text-embedding-3-small",
        input_price="0.02",
        output_modalities=["embeddings"],
    )

    _client(url, customer.secret).embeddings.create(
        model="openai/text-embedding-3-small", input="x", user="carol"
    )

    assert openai_upstream.requests[-1].json["user"] == upstream_user(customer.user.pk, "carol")


def test_the_hash_key_is_the_documented_setting(settings):
    before = upstream_user(1, "alice")
    settings.USER_HASH_SECRET = "another-secret-of-enough-length-0123456789"
    assert upstream_user(1, "alice") != before


def test_activity_filters_by_app_and_by_user_and_shows_the_app(world):
    customer, url = world
    _client(url, customer.secret, **{"X-Title": "Alpha"}).chat.completions.create(
        model="mock/echo", messages=HELLO, user="u1"
    )
    _client(url, customer.secret, **{"HTTP-Referer": "https://beta.example/"}).chat.completions.create(
        model="mock/echo", messages=HELLO, user="u2"
    )
    browser = Client()
    browser.force_login(customer.user)

    def listed(query: str) -> list[str]:
        return [g.app_title or g.app_referer for g in browser.get(f"/activity/{query}").context["page"].rows]

    assert sorted(listed("")) == ["Alpha", "https://beta.example/"]
    assert listed("?app=Alpha") == ["Alpha"]
    assert listed("?app=https://beta.example/") == ["https://beta.example/"]
    assert listed("?user=u1") == ["Alpha"]
    assert listed("?app=Nobody") == []
    page = browser.get("/activity/").content.decode()
    assert "· Alpha" in page and 'name="app"' in page and 'name="user"' in page


def test_a_utf8_title_is_kept_and_an_overlong_referer_is_cut(world):
    customer, url = world
    headers = {
        b"Authorization": f"Bearer {customer.secret}".encode(),
        b"X-Title": "Café Ünïcode".encode(),
        b"HTTP-Referer": b"https://long.example/" + b"a" * 600,
    }

    reply = httpx.post(
        f"{url}/chat/completions", json={"model": "mock/echo", "messages": HELLO}, headers=headers
    )

    gen = Generation.objects.get(pk=reply.json()["id"])
    assert gen.app_title == "Café Ünïcode"
    assert gen.app_referer.startswith("https://long.example/") and len(gen.app_referer) == 500


def test_the_activity_export_carries_app_and_user(world):
    customer, url = world
    _client(url, customer.secret, **{"X-Title": "Exported"}).chat.completions.create(
        model="mock/echo", messages=HELLO, user="u-9"
    )
    browser = Client()
    browser.force_login(customer.user)

    lines = b"".join(browser.get("/activity/export.csv").streaming_content).decode().splitlines()

    header = lines[0].split(",")
    row = dict(zip(header, lines[1].split(","), strict=False))
    assert (row["app_title"], row["user"]) == ("Exported", "u-9")


def test_header_values_lose_control_characters_and_surrounding_space():
    from gateway.pipeline.attribution import app_from

    app = app_from({"x-title": "  My\x07 App\t ", "http-referer": "https://x.example/\x00"}.get)

    assert (app.title, app.referer) == ("My App", "https://x.example/")
