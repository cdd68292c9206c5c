from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory, make_key

PASSWORD = "correct-horse-battery"


@pytest.fixture
def user(db):
    return UserFactory(email="alice@example.com")


@pytest.fixture
def other_user(db):
    return UserFactory(email="bob@example.com")


@pytest.fixture
def client_a(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_b(other_user) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def key_and_secret(user):
    return make_key(user, name="alice key")


@pytest.fixture
def catalog_model(db):
    from catalog.models import Model

    return Model.objects.create(slug="mock/echo", name="Echo")


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def long_key_cache(settings):
    """Key lookups cached for a minute, so a test proves the cache is dropped, not expired."""
    from accounts import keyauth

    settings.AUTH_CACHE_SECONDS = 60
    keyauth.forget()
    yield
    keyauth.forget()
