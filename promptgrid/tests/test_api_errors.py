"""Under /api/, a wrong path, a wrong method, an absurd offset and a server fault are JSON errors."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(make_customer):
    from accounts.services import api_key_create

    customer = make_customer()
    _key, secret = api_key_create(user=customer.user, name="manage", kind="management")
    return {"Authorization": f"Bearer {secret}"}


def test_an_unknown_api_path_is_a_json_404(client, manager):
    for url in ("/api/v1/nope", "/api/v1/keys/1/extra"):
        response = client.get(url, headers=manager)
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


def test_a_wrong_method_on_an_api_path_is_a_json_405(client, manager):
    response = client.delete("/api/v1/credits", headers=manager)
    assert response.status_code == 405 and response["Content-Type"] == "application/json"
    assert "DELETE" in response.json()["error"]["message"] and "GET" in response["Allow"]


def test_an_offset_past_bigint_is_an_empty_page(client, manager):
    response = client.get("/api/v1/keys?offset=99999999999999999999999", headers=manager)
    assert response.status_code == 200 and response.json()["data"] == []


def test_a_server_fault_under_the_api_is_json(client):
    from promptgrid import api_errors

    request = client.get("/api/v1/nope").wsgi_request
    response = api_errors.server_error(request)
    assert response.status_code == 500 and response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_a_dropped_database_connection_is_a_503_to_retry_on_the_drf_api(client, monkeypatch):
    from django.db import OperationalError

    from accounts import selectors

    def dropped(**kwargs):
        raise OperationalError("terminating connection due to administrator command")

    from accounts.tests.factories import UserFactory

    client.force_login(UserFactory())
    monkeypatch.setattr(selectors, "api_keys_visible", dropped)
    response = client.get("/api/v1/keys")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response["Retry-After"] == "1"
