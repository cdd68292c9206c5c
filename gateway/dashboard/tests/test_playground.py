"""The playground page and its session-scoped internal key."""

from __future__ import annotations

import pytest

from accounts.keyauth import KeyRejected, authenticate
from accounts.models import ApiKey
from tests.factories import UserFactory, catalog_with_mock

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(client):
    user = UserFactory()
    client.force_login(user)
    return user


def test_page_offers_enabled_models_with_mock_first(client, user):
    catalog_with_mock()
    body = client.get("/playground/").content.decode()
    assert '<option value="mock/echo" selected>' in body
    assert 'id="pg-prices"' in body


def test_embedding_models_are_not_offered_in_the_chat_playground(client, user, make_mock_model):
    catalog_with_mock()
    make_mock_model(slug="mock/embed", upstream_model="embed", output_modalities=["embeddings"])

    body = client.get("/playground/").content.decode()

    assert 'value="mock/echo"' in body and 'value="mock/embed"' not in body


def test_one_key_per_session_of_kind_playground(client, user):
    first = client.post("/playground/key/").json()["key"]
    second = client.post("/playground/key/").json()["key"]
    assert first == second and first.startswith("pg-v1-")
    key = ApiKey.objects.get(user=user)
    assert key.kind == ApiKey.Kind.PLAYGROUND
    assert authenticate(first).id == key.id


def test_key_endpoint_needs_post_and_login(client):
    assert client.get("/playground/key/").status_code in (302, 405)
    assert client.post("/playground/key/").status_code == 302


def test_a_revoked_session_key_is_replaced(client, user):
    first = client.post("/playground/key/").json()["key"]
    ApiKey.objects.filter(user=user).update(disabled=True)
    second = client.post("/playground/key/").json()["key"]
    assert first != second
    assert ApiKey.objects.filter(user=user, kind="playground").count() == 2


def test_logout_revokes_the_session_key(client, user):
    secret = client.post("/playground/key/").json()["key"]
    client.post("/accounts/logout/")
    key = ApiKey.objects.get(user=user)
    assert key.revoked_at is not None
    with pytest.raises(KeyRejected):
        authenticate(secret)


def test_other_sessions_keep_their_keys(client, user):
    from django.test import Client

    other_session = Client()
    other_session.force_login(user)
    kept = other_session.post("/playground/key/").json()["key"]
    client.post("/playground/key/")
    client.post("/accounts/logout/")
    assert authenticate(kept).user_id == user.pk


def test_no_secret_is_stored_in_the_session(client, user):
    from django.contrib.sessions.models import Session

    secret = client.post("/playground/key/").json()["key"]

    stored = [s.session_data + str(s.get_decoded()) for s in Session.objects.all()]
    assert stored and not any(secret in data or secret[6:] in data for data in stored)
    assert authenticate(secret).user_id == user.pk


def test_the_key_expires_soon(client, user, settings):
    from django.utils import timezone

    client.post("/playground/key/")
    key = ApiKey.objects.get(user=user)
    assert key.expires_at is not None
    assert key.expires_at <= timezone.now() + timezone.timedelta(seconds=settings.PLAYGROUND_KEY_SECONDS)


def test_a_password_change_revokes_every_sessions_playground_key(client, user):
    from django.test import Client

    other_session = Client()
    other_session.force_login(user)
    elsewhere = other_session.post("/playground/key/").json()["key"]
    here = client.post("/playground/key/").json()["key"]

    user.set_password("a-new-password-1234")
    user.save()

    for secret in (elsewhere, here):
        with pytest.raises(KeyRejected):
            authenticate(secret)
