"""User B gets 404 on every page and API call for user A's key, and changes nothing."""

from __future__ import annotations

import pytest

from accounts.models import ApiKey
from accounts.tests.conftest import bearer
from accounts.tests.factories import make_key

PAGE_CALLS = [
    ("get", "/keys/{id}/edit/", None),
    ("post", "/keys/{id}/edit/", {"name": "stolen", "limit_reset": "never"}),
    ("post", "/keys/{id}/disable/", {}),
    ("post", "/keys/{id}/enable/", {}),
    ("get", "/keys/{id}/revoke/", None),
    ("post", "/keys/{id}/revoke/", {}),
]
API_CALLS = [
    ("get", "/api/v1/keys/{ref}", None),
    ("patch", "/api/v1/keys/{ref}", {"name": "stolen", "disabled": True}),
    ("delete", "/api/v1/keys/{ref}", None),
]


def _snapshot(key: ApiKey) -> tuple:
    key.refresh_from_db()
    return (key.name, key.disabled, key.revoked_at, key.limit_nanos, key.updated_at)


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(("method", "url", "data"), PAGE_CALLS)
def test_pages_of_another_users_key_are_404(client_b, key_and_secret, method, url, data, htmx):
    key, _ = key_and_secret
    before = _snapshot(key)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = getattr(client_b, method)(url.format(id=key.pk), data, **headers)
    assert response.status_code == 404
    assert _snapshot(key) == before


@pytest.mark.parametrize(("method", "url", "data"), API_CALLS)
@pytest.mark.parametrize("ref_kind", ["id", "hash"])
@pytest.mark.parametrize("auth", ["session", "management_key"])
def test_api_calls_on_another_users_key_are_404(
    client, client_b, other_user, key_and_secret, method, url, data, ref_kind, auth
):
    key, _ = key_and_secret
    before = _snapshot(key)
    ref = key.pk if ref_kind == "id" else key.secret_hash
    if auth == "session":
        caller, headers = client_b, {}
    else:
        _, mgmt = make_key(other_user, name="bob mgmt", kind=ApiKey.Kind.MANAGEMENT)
        caller, headers = client, bearer(mgmt)
    kwargs = {"content_type": "application/json"} if data is not None else {}
    response = getattr(caller, method)(url.format(ref=ref), data, **kwargs, **headers)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert _snapshot(key) == before


def test_lists_show_only_your_own_keys(client, client_b, other_user, key_and_secret):
    key, _ = key_and_secret
    make_key(other_user, name="bob key")
    page = client_b.get("/keys/").content.decode()
    assert "bob key" in page and key.masked not in page and "alice key" not in page
    names = [k["name"] for k in client_b.get("/api/v1/keys").json()["data"]]
    assert names == ["bob key"]


def test_unknown_key_ids_are_404_too(client_a, db):
    assert client_a.get("/keys/999999/edit/").status_code == 404
    assert client_a.get("/api/v1/keys/999999").status_code == 404
    assert client_a.get("/api/v1/keys/not-a-key").status_code == 404
