"""The per-process key cache stays bounded however many unknown secrets are sent."""

import secrets

import pytest

from accounts import keyauth

pytestmark = pytest.mark.django_db


def test_unknown_keys_do_not_grow_the_cache_past_its_bound(settings, make_customer):
    settings.AUTH_CACHE_SECONDS = 60
    settings.AUTH_CACHE_SIZE = 100
    keyauth.forget()
    customer = make_customer()
    try:
        for _ in range(500):
            with pytest.raises(keyauth.KeyRejected, match="Invalid API key"):
                keyauth.authenticate(f"pg-v1-{secrets.token_hex(24)}")
            keyauth.authenticate(customer.secret)  # in use: stays cached

        assert len(keyauth._cache) <= 100
        assert keyauth.authenticate_cached(customer.secret) is not None
    finally:
        keyauth.forget()
