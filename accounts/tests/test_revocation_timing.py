"""Revocation bites within seconds on every process; last use is written at most once a minute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import keyauth, services
from accounts.models import ApiKey
from accounts.tests.conftest import bearer
from accounts.tests.factories import make_key


@pytest.fixture
def cache_for_two_seconds(settings):
    settings.AUTH_CACHE_SECONDS = 2
    keyauth.forget()
    yield
    keyauth.forget()


@pytest.fixture
def clock(monkeypatch):
    """This process's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(keyauth.time, "monotonic", lambda: now[0])
    return now


def test_revoking_here_bites_on_the_next_request(client, user, cache_for_two_seconds):
    key, secret = make_key(user)
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 200
    services.api_key_revoke(key=key)
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_at": timezone.now()},
        {"disabled": True},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
    ],
)
def test_a_change_made_by_another_process_bites_once_the_cache_expires(
    client, user, cache_for_two_seconds, clock, change
):
    key, secret = make_key(user)
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 200
    # Another process changes the row: this process's cache was not told.
    ApiKey.objects.filter(pk=key.pk).update(**change)
    clock[0] += 1.0
    if "expires_at" not in change:  # within the cache's lifetime the old answer may stand
        assert client.get("/api/v1/key", **bearer(secret)).status_code == 200
    clock[0] += 1.01
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 401


def test_a_key_stops_at_its_expiry_even_while_cached(client, user, cache_for_two_seconds, clock, monkeypatch):
    expires = timezone.now() + timedelta(seconds=30)
    _, secret = make_key(user, expires_at=expires)
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 200
    monkeypatch.setattr(keyauth.timezone, "now", lambda: expires + timedelta(seconds=1))
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 401


def test_disabling_and_editing_on_the_page_forget_the_cached_key(
    client, client_a, user, cache_for_two_seconds
):
    key, secret = make_key(user)
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 200
    client_a.post(f"/keys/{key.pk}/disable/")
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 401
    client_a.post(f"/keys/{key.pk}/enable/")
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 200


def test_last_used_is_written_at_most_once_a_minute(client, user):
    key, secret = make_key(user)
    assert key.last_used_at is None
    client.get("/api/v1/key", **bearer(secret))
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    client.get("/api/v1/key", **bearer(secret))
    key.refresh_from_db()
    assert key.last_used_at == first
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(seconds=61))
    client.get("/api/v1/key", **bearer(secret))
    key.refresh_from_db()
    assert key.last_used_at > first
