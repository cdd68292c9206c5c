"""An owner can require two-factor sign-in (allauth's mfa: TOTP and recovery codes) for
the organisation's members."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, hotp_value
from django.test import Client

from accounts.organisations import services as orgs
from gateway.tests.orgs.test_org_pages import client_for
from gateway.tests.orgs.world import make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    world = make_org(credits_nanos=1_000_000_000)
    world.add("dev")
    orgs.organisation_update(organisation=world.organisation, require_mfa=True)
    return world


def test_a_member_without_two_factor_is_sent_to_set_it_up_and_kept_out(world):
    client = client_for(world["dev"].user)
    slug = world.organisation.slug

    switched = client.post("/orgs/switch/", {"org": slug})
    assert switched.status_code == 302 and switched.url == "/accounts/2fa/totp/activate/"
    assert client.get(f"/orgs/{slug}/").url == "/accounts/2fa/totp/activate/"
    planted = client_for(world["dev"].user, slug)  # a session that chose it before the rule
    assert "$1.00" not in planted.get("/credits/").content.decode()  # back in the personal context
    setup = client.get("/accounts/2fa/totp/activate/")  # allauth's, after confirming the password
    assert setup.status_code == 200 or setup.url.startswith("/accounts/reauthenticate/")


def test_with_an_authenticator_the_member_gets_in(world):
    user = world["dev"].user
    TOTP.activate(user, generate_totp_secret())
    client = client_for(user)

    assert client.post("/orgs/switch/", {"org": world.organisation.slug}).url == "/"
    assert "$1.00" in client.get("/credits/").content.decode()


def test_signing_in_asks_for_the_code_once_two_factor_is_on(world):
    user = world["dev"].user
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    client = Client()

    login = client.post("/accounts/login/", {"login": user.email, "password": "pw-123456789"})

    assert login.status_code == 302 and "2fa" in login.url
    import time

    code = hotp_value(secret, int(time.time()) // 30)
    done = client.post(login.url, {"code": f"{code:06d}"})
    assert done.status_code == 302
    assert client.get("/").status_code == 200
