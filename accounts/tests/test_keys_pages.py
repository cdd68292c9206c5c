from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from accounts.tests.factories import make_key

HTMX = {"HTTP_HX_REQUEST": "true"}


def _create(client, **data):
    payload = {"name": "ci", "limit_usd": "", "limit_reset": "never", "allowed_models": "", **data}
    return client.post("/keys/new/", payload)


def test_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get("/keys/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_keys_table_shows_name_mask_dates_spend_limit_and_status(client_a, user):
    key, secret = make_key(user, name="prod", limit_nanos=5_000_000_000, limit_reset="monthly")
    ApiKey.objects.filter(pk=key.pk).update(
        usage_nanos=1_250_000_000, last_used_at=timezone.now() - timedelta(minutes=5, seconds=10)
    )
    old, _ = make_key(user, name="old one")
    ApiKey.objects.filter(pk=old.pk).update(disabled=True)

    page = client_a.get("/keys/").content.decode()

    assert "prod" in page and key.masked in page
    assert "$1.25" in page  # spend to date
    assert "$5.00 / monthly" in page
    assert "5\xa0minutes ago" in page  # last used
    assert key.created_at.strftime("%b") in page
    assert 'badge badge-ok">active' in page and 'badge badge-warn">disabled' in page
    assert secret not in page


def test_creating_a_key_shows_the_secret_once_with_copy_button_and_warning(client_a, user):
    response = _create(client_a, name="laptop")

    assert response.status_code == 200
    page = response.content.decode()
    key = ApiKey.objects.get(user=user, name="laptop")
    secret = page.split('id="new-key-secret">', 1)[1].split("<", 1)[0]
    assert secret.startswith("pg-v1-") and len(secret) >= 6 + 43
    assert key.masked.startswith(secret[:9]) and key.masked.endswith(secret[-3:])
    assert f'data-copy="{secret}"' in page and "copy-btn" in page
    assert "will not be shown again" in page
    assert "no-store" in response["Cache-Control"]
    # Never again: not on the list, nor on the edit page.
    assert secret not in client_a.get("/keys/").content.decode()
    assert secret not in client_a.get(f"/keys/{key.pk}/edit/").content.decode()


def test_create_form_stores_limits_expiry_rates_and_models(client_a, user, catalog_model):
    expires = (timezone.now() + timedelta(days=10)).replace(second=0, microsecond=0)
    response = _create(
        client_a,
        name="limited",
        limit_usd="12.345",
        limit_reset="weekly",
        expires_at=expires.strftime("%Y-%m-%dT%H:%M"),
        rpm_limit="60",
        tpm_limit="100000",
        allowed_models="mock/echo",
    )

    assert response.status_code == 200
    key = ApiKey.objects.get(user=user, name="limited")
    assert key.limit_nanos == 12_345_000_000
    assert key.limit_reset == "weekly"
    assert key.expires_at == expires
    assert (key.rpm_limit, key.tpm_limit) == (60, 100000)
    assert key.allowed_models == ["mock/echo"]
    page = client_a.get("/keys/").content.decode()
    assert "$12.345 / weekly" in page and "60 req/min" in page and "1 model allowed" in page


def test_create_form_can_make_a_management_key(client_a, user):
    _create(client_a, name="ops", management="on")
    assert ApiKey.objects.get(user=user, name="ops").kind == ApiKey.Kind.MANAGEMENT


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("allowed_models", "nope/unknown", "Unknown or disabled model: nope/unknown"),
        ("limit_usd", "-1", "greater than or equal to 0"),
        ("expires_at", "2001-01-01T00:00", "Choose a time in the future"),
        ("rpm_limit", "0", "greater than or equal to 1"),
        ("name", "", "This field is required"),
    ],
)
def test_create_form_rejects_bad_values_and_creates_nothing(client_a, user, field, value, message):
    response = _create(client_a, **{field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ApiKey.objects.filter(user=user).exists()


def test_disabled_catalog_models_cannot_be_allowed(client_a, user, catalog_model):
    catalog_model.enabled = False
    catalog_model.save()
    response = _create(client_a, allowed_models="mock/echo")
    assert "Unknown or disabled model: mock/echo" in response.content.decode()


def test_create_with_htmx_returns_the_panel_and_refreshes_the_table_out_of_band(client_a, user):
    response = client_a.post("/keys/new/", {"name": "hx", "limit_reset": "never"}, **HTMX)
    page = response.content.decode()
    assert "<html" not in page
    assert 'id="key-created"' in page and 'id="new-key-secret"' in page
    assert 'hx-swap-oob="true"' in page and 'id="key-table"' in page and ">hx" in page


def test_htmx_form_fragment_for_create_and_edit(client_a, key_and_secret):
    key, _ = key_and_secret
    for url in ("/keys/new/", f"/keys/{key.pk}/edit/"):
        page = client_a.get(url, **HTMX).content.decode()
        assert "<html" not in page and 'id="key-form"' in page and "csrfmiddlewaretoken" in page


def test_edit_changes_limits_and_shows_them(client_a, key_and_secret):
    key, secret = key_and_secret
    response = client_a.post(
        f"/keys/{key.pk}/edit/",
        {"name": "renamed", "limit_usd": "3", "limit_reset": "daily", "rpm_limit": "5", "allowed_models": ""},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.limit_nanos, key.limit_reset, key.rpm_limit) == (
        "renamed",
        3_000_000_000,
        "daily",
        5,
    )
    page = client_a.get("/keys/").content.decode()
    assert "renamed" in page and "$3.00 / daily" in page and secret not in page


def test_edit_form_is_prefilled_with_the_key_values(client_a, user):
    key, _ = make_key(user, name="pre", limit_nanos=2_500_000_000, limit_reset="monthly", tpm_limit=900)
    page = client_a.get(f"/keys/{key.pk}/edit/").content.decode()
    assert 'value="pre"' in page and 'value="2.5"' in page and 'value="900"' in page
    assert '<option value="monthly" selected>' in page
    assert "Management key" not in page  # a key's kind is fixed at creation


def test_edit_keeps_an_allowed_model_the_catalog_has_since_disabled(client_a, user, catalog_model):
    key, _ = make_key(user, allowed_models=["mock/echo"])
    catalog_model.enabled = False
    catalog_model.save()
    response = client_a.post(
        f"/keys/{key.pk}/edit/", {"name": "kept", "limit_reset": "never", "allowed_models": "mock/echo"}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "kept" and key.allowed_models == ["mock/echo"]


def test_edit_with_htmx_confirms_and_refreshes_the_table(client_a, key_and_secret):
    key, _ = key_and_secret
    response = client_a.post(f"/keys/{key.pk}/edit/", {"name": "hx-renamed", "limit_reset": "never"}, **HTMX)
    page = response.content.decode()
    assert "saved" in page and 'hx-swap-oob="true"' in page and "hx-renamed" in page


def test_disable_then_enable(client_a, key_and_secret):
    key, _ = key_and_secret
    response = client_a.post(f"/keys/{key.pk}/disable/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.disabled and key.status == "disabled"
    client_a.post(f"/keys/{key.pk}/enable/")
    key.refresh_from_db()
    assert not key.disabled and key.status == "active"


def test_disable_with_htmx_returns_the_updated_row_only(client_a, key_and_secret):
    key, _ = key_and_secret
    page = client_a.post(f"/keys/{key.pk}/disable/", **HTMX).content.decode()
    assert page.strip().startswith(f'<tr id="key-{key.pk}" data-key-status="disabled"')
    assert "Enable" in page


def test_revoke_asks_for_confirmation_before_revoking(client_a, key_and_secret):
    key, _ = key_and_secret
    page = client_a.get(f"/keys/{key.pk}/revoke/").content.decode()
    assert "cannot be undone" in page and f'action="/keys/{key.pk}/revoke/"' in page
    key.refresh_from_db()
    assert key.revoked_at is None

    response = client_a.post(f"/keys/{key.pk}/revoke/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and key.status == "revoked"


def test_revoke_link_confirms_in_the_browser_before_posting(client_a, key_and_secret):
    key, _ = key_and_secret
    page = client_a.get("/keys/").content.decode()
    assert f'hx-post="/keys/{key.pk}/revoke/"' in page and "hx-confirm=" in page


def test_revoke_with_htmx_returns_a_revoked_row_without_actions(client_a, key_and_secret):
    key, _ = key_and_secret
    page = client_a.post(f"/keys/{key.pk}/revoke/", **HTMX).content.decode()
    assert 'data-key-status="revoked"' in page and "Disable" not in page and "Edit" not in page


def test_a_revoked_key_cannot_be_edited_or_enabled(client_a, key_and_secret):
    key, _ = key_and_secret
    client_a.post(f"/keys/{key.pk}/revoke/")
    response = client_a.post(f"/keys/{key.pk}/edit/", {"name": "back", "limit_reset": "never"})
    assert response.status_code == 302
    client_a.post(f"/keys/{key.pk}/enable/")
    key.refresh_from_db()
    assert key.name == "alice key" and key.status == "revoked"


def test_expired_key_is_shown_as_expired(client_a, user):
    key, _ = make_key(user, name="old")
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert 'badge badge-bad">expired' in client_a.get("/keys/").content.decode()


def test_playground_keys_are_internal_and_not_listed(client_a, user):
    key, _ = make_key(user, name="playground-internal", kind=ApiKey.Kind.PLAYGROUND)
    assert "playground-internal" not in client_a.get("/keys/").content.decode()
    assert client_a.get(f"/keys/{key.pk}/edit/").status_code == 404


def test_table_refreshes_itself_live_when_a_generation_lands(client_a, key_and_secret):
    from django.db.models import F

    key, _ = key_and_secret
    page = client_a.get("/keys/").content.decode()
    assert 'data-live-refresh="/keys/" data-live-on="generation"' in page
    ApiKey.objects.filter(pk=key.pk).update(usage_nanos=F("usage_nanos") + 420_000_000)
    fragment = client_a.get("/keys/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.strip().startswith('<div id="key-table"') and "$0.42" in fragment


def test_editing_an_expired_key_keeps_its_expiry_unless_changed(client_a, user):
    past = timezone.now() - timedelta(days=1, seconds=17)
    key, _ = make_key(user, name="lapsed")
    ApiKey.objects.filter(pk=key.pk).update(expires_at=past)
    shown = timezone.localtime(past).strftime("%Y-%m-%dT%H:%M")
    response = client_a.post(
        f"/keys/{key.pk}/edit/", {"name": "renamed", "limit_reset": "never", "expires_at": shown}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "renamed" and key.expires_at == past and key.status == "expired"
    # Moving it into the past again is refused; into the future, it works again.
    earlier = (past - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_a.post(
        f"/keys/{key.pk}/edit/", {"name": "x", "limit_reset": "never", "expires_at": earlier}
    )
    assert "Choose a time in the future" in response.content.decode()
    later = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    client_a.post(f"/keys/{key.pk}/edit/", {"name": "x", "limit_reset": "never", "expires_at": later})
    key.refresh_from_db()
    assert key.status == "active"


@pytest.mark.parametrize("page", ["new", "edit"])
def test_standalone_key_form_posts_normally_instead_of_into_a_missing_panel(client_a, user, page):
    # Opened by its own URL (bookmark, new tab, link from elsewhere) the form page has no
    # #key-panel: an htmx target there makes htmx refuse the submit, so nothing happens.
    key, _ = make_key(user, name="prod")
    url = "/keys/new/" if page == "new" else f"/keys/{key.pk}/edit/"

    html = client_a.get(url).content.decode()

    targets = set(re.findall(r'hx-target="#([\w-]+)"', html))
    assert all(f'id="{target}"' in html for target in targets), targets
    assert f'action="{url}"' in html and 'method="post"' in html


def test_key_form_in_the_keys_page_panel_still_swaps_into_it(client_a):
    html = client_a.get("/keys/new/", **HTMX).content.decode()

    assert 'hx-post="/keys/new/"' in html and 'hx-target="#key-panel"' in html
