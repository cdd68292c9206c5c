"""The organisation pages and the dashboard in an organisation's context, as an outsider, a
member and an admin: someone else's organisation is a 404 everywhere."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from accounts.models import ApiKey
from accounts.organisations.context import SESSION_KEY
from accounts.organisations.invitations import invitation_create, invitation_url
from accounts.organisations.models import Invitation, Membership
from billing.models import Generation
from gateway.tests.orgs.world import make_org
from tests.factories import GenerationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    world = make_org(credits_nanos=5_000_000_000)
    world.add("dev")
    world.add("boss", role="admin")
    return world


def client_for(user, slug: str = "") -> Client:
    client = Client()
    client.force_login(user)
    if slug:
        session = client.session
        session[SESSION_KEY] = slug
        session.save()
    return client


def org_urls(world) -> dict[str, list[str]]:
    slug = world.organisation.slug
    member = world["dev"].membership(world.organisation)
    invitation = invitation_create(
        organisation=world.organisation, email="new@x.test", invited_by=world["owner"].user
    )
    return {
        "get": [f"/orgs/{slug}/"],
        "admin_post": [
            f"/orgs/{slug}/members/{member.pk}/",
            f"/orgs/{slug}/members/{member.pk}/remove/",
            f"/orgs/{slug}/invitations/",
            f"/orgs/{slug}/invitations/{invitation.pk}/revoke/",
            f"/orgs/{slug}/settings/",
        ],
    }


def test_an_outsider_gets_404_on_every_organisation_url(world):
    outsider = get_user_model().objects.create_user("out", "out@x.test", "pw-123456789")
    client = client_for(outsider)
    urls = org_urls(world)

    for url in urls["get"]:
        assert client.get(url).status_code == 404, url
    for url in urls["admin_post"]:
        assert client.post(url, {"email": "a@b.test", "role": "member"}).status_code == 404, url
    assert client.post("/orgs/switch/", {"org": world.organisation.slug}).status_code == 404
    assert Membership.objects.filter(organisation=world.organisation).count() == 3
    # A context it is not a member of, planted in its session, falls back to personal.
    planted = client_for(outsider, world.organisation.slug)
    assert world.organisation.name not in planted.get("/credits/").content.decode()


def test_a_member_sees_the_page_but_every_admin_action_is_a_404(world):
    client = client_for(world["dev"].user)
    urls = org_urls(world)

    page = client.get(urls["get"][0])
    assert page.status_code == 200 and "Your spend this period" in page.content.decode()
    assert "boss@team.test" not in page.content.decode()  # no member list for members
    for url in urls["admin_post"]:
        if url.endswith(f"/members/{world['dev'].membership(world.organisation).pk}/remove/"):
            continue  # a member may leave: their own membership
        assert client.post(url, {"email": "a@b.test", "role": "admin"}).status_code == 404, url
    assert Invitation.objects.filter(email="a@b.test").count() == 0


def test_an_admin_manages_members_but_not_owners(world):
    client = client_for(world["boss"].user)
    slug = world.organisation.slug
    dev = world["dev"].membership(world.organisation)
    owner = world["owner"].membership(world.organisation)

    page = client.get(f"/orgs/{slug}/").content.decode()
    assert "dev@team.test" in page and "owner@team.test" in page

    response = client.post(
        f"/orgs/{slug}/members/{dev.pk}/",
        {f"m{dev.pk}-role": "member", f"m{dev.pk}-limit_usd": "2.5", f"m{dev.pk}-limit_reset": "daily"},
    )
    assert response.status_code == 302
    dev.refresh_from_db()
    assert (dev.limit_nanos, dev.limit_reset) == (2_500_000_000, "daily")

    client.post(
        f"/orgs/{slug}/members/{owner.pk}/",
        {f"m{owner.pk}-role": "member", f"m{owner.pk}-limit_reset": "never"},
    )
    client.post(
        f"/orgs/{slug}/members/{dev.pk}/", {f"m{dev.pk}-role": "owner", f"m{dev.pk}-limit_reset": "never"}
    )
    owner.refresh_from_db(), dev.refresh_from_db()
    assert owner.role == "owner" and dev.role == "member"


def test_an_admin_invites_by_email_and_the_link_signs_up_then_joins_once(world):
    client = client_for(world["boss"].user)
    slug = world.organisation.slug

    assert (
        client.post(f"/orgs/{slug}/invitations/", {"email": "New@X.test", "role": "member"}).status_code
        == 302
    )

    (message,) = mail.outbox
    assert message.to == ["new@x.test"] and world.organisation.name in message.subject
    link = re.search(r"https?://\S+/orgs/invitations/\S+/", message.body).group(0)
    path = link[link.index("/orgs/") :]
    anonymous = Client()
    landing = anonymous.get(path).content.decode()
    assert "Sign up" in landing and "/accounts/signup/?next=" in landing

    newcomer = get_user_model().objects.create_user("new", "new@x.test", "pw-123456789")
    joined = client_for(newcomer)
    assert joined.post(path).status_code == 302
    assert Membership.objects.get(user=newcomer).role == "member"
    assert joined.post(path).status_code == 410  # single use


def test_an_invitation_for_someone_else_an_expired_and_a_revoked_one_are_refused(world):
    owner = world["owner"].user
    other = get_user_model().objects.create_user("other", "other@x.test", "pw-123456789")
    invitation = invitation_create(organisation=world.organisation, email="new@x.test", invited_by=owner)
    path = invitation_url(invitation)[invitation_url(invitation).index("/orgs/") :]

    assert client_for(other).post(path).status_code == 403
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=invitation.created_at)
    assert "expired" in Client().get(path).content.decode()

    fresh = invitation_create(organisation=world.organisation, email="new@x.test", invited_by=owner)
    fresh_path = invitation_url(fresh)[invitation_url(fresh).index("/orgs/") :]
    client_for(world["boss"].user).post(f"/orgs/{world.organisation.slug}/invitations/{fresh.pk}/revoke/")
    assert "revoked" in Client().get(fresh_path).content.decode()
    assert Client().get("/orgs/invitations/not-a-token/").status_code == 410


def test_the_dashboard_follows_the_chosen_context(world):
    dev, boss = world["dev"], world["boss"]
    GenerationFactory(user=dev.user, api_key=dev.key, organisation=world.organisation, model_slug="mock/team")
    GenerationFactory(
        user=boss.user, api_key=boss.key, organisation=world.organisation, model_slug="mock/boss"
    )
    mine = ApiKey.objects.create(user=dev.user, name="personal", secret_hash="p" * 64, masked="pg-v1-p")
    GenerationFactory(user=dev.user, api_key=mine, model_slug="mock/private")

    personal = client_for(dev.user)
    assert personal.post("/orgs/switch/", {"org": "", "next": "/activity/"}).url == "/activity/"
    activity = personal.get("/activity/").content.decode()
    assert "mock/private" in activity and "mock/team" not in activity

    member = client_for(dev.user)
    member.post("/orgs/switch/", {"org": world.organisation.slug, "next": "/activity/"})
    activity = member.get("/activity/").content.decode()
    assert "mock/team" in activity and "mock/boss" not in activity and "mock/private" not in activity
    boss_generation = Generation.objects.get(model_slug="mock/boss")
    assert member.get(f"/activity/{boss_generation.pk}/").status_code == 404
    keys = member.get("/keys/").content.decode()
    assert "dev key" in keys and "boss key" not in keys and "personal" not in keys
    assert "$5.00" in member.get("/credits/").content.decode()
    assert "Only an owner" in member.get("/credits/").content.decode()
    assert member.post("/credits/redeem/", {"code": "X"}).status_code == 302  # refused with a message

    admin = client_for(boss.user, world.organisation.slug)
    activity = admin.get("/activity/").content.decode()
    assert "mock/team" in activity and "mock/boss" in activity and "dev@team.test" in activity
    assert admin.get(f"/activity/{Generation.objects.get(model_slug='mock/team').pk}/").status_code == 200
    assert "dev key" in admin.get("/keys/").content.decode()
    assert admin.get("/").status_code == 200


def test_a_key_made_on_the_keys_page_in_an_organisation_context_belongs_to_it(world):
    member = client_for(world["dev"].user, world.organisation.slug)

    response = member.post("/keys/new/", {"name": "made here", "limit_reset": "never"})

    assert response.status_code == 200
    assert ApiKey.objects.get(name="made here").organisation_id == world.organisation.pk


def test_an_owner_deletes_an_empty_organisation_and_its_keys_stop(world):
    from accounts.keyauth import KeyRejected, authenticate
    from billing import services as billing

    slug = world.organisation.slug
    owner = client_for(world["owner"].user, slug)
    assert client_for(world["boss"].user).post(f"/orgs/{slug}/delete/", {"confirm": slug}).status_code == 404

    owner.post(f"/orgs/{slug}/delete/", {"confirm": slug})  # it still holds $5: refused
    assert Membership.objects.filter(organisation=world.organisation).count() == 3
    billing.ledger_post(
        account_id=world.account.pk, kind="adjustment", amount_nanos=-world.balance(), idempotency_key="empty"
    )
    owner.post(f"/orgs/{slug}/delete/", {"confirm": "wrong"})
    assert Membership.objects.filter(organisation=world.organisation).count() == 3

    assert owner.post(f"/orgs/{slug}/delete/", {"confirm": slug}).url == "/"

    assert not Membership.objects.filter(organisation=world.organisation).exists()
    with pytest.raises(KeyRejected):
        authenticate(world["dev"].secret)
    assert owner.get(f"/orgs/{slug}/").status_code == 404
    world.organisation.refresh_from_db()
    assert world.organisation.closed_at is not None


def test_a_member_sees_the_organisation_balance_but_not_its_ledger(world):
    from billing import services as billing

    billing.credits_grant(account=world.account, amount_nanos=1, memo="a secret grant memo")

    member = client_for(world["dev"].user, world.organisation.slug).get("/credits/").content.decode()
    admin = client_for(world["boss"].user, world.organisation.slug).get("/credits/").content.decode()

    assert "$5.000000001" in member and "a secret grant memo" not in member
    assert "a secret grant memo" in admin


def test_an_admin_filters_the_organisation_s_activity_by_a_member_s_key(world):
    dev, boss = world["dev"], world["boss"]
    mine = GenerationFactory(user=dev.user, api_key=dev.key, organisation=world.organisation)
    theirs = GenerationFactory(user=boss.user, api_key=boss.key, organisation=world.organisation)
    admin = client_for(boss.user, world.organisation.slug)

    page = admin.get("/activity/").content.decode()
    filtered = admin.get(f"/activity/?key={dev.key.pk}").content.decode()

    assert "dev key" in page and "dev@team.test" in page
    assert f'data-row-id="{mine.pk}"' in filtered and f'data-row-id="{theirs.pk}"' not in filtered
