from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey
from accounts.tests.conftest import bearer
from accounts.tests.factories import make_key


def _generation(user, key, cost_nanos: int, when: datetime, n: int) -> None:
    from billing.models import Generation

    Generation.objects.create(
        id=f"gen-{n}",
        user=user,
        api_key=key,
        model_slug="mock/echo",
        status="success",
        cost_nanos=cost_nanos,
        created_at=when,
    )


def _assert_openai_error(response, status: int, text: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["type"] and text in body["error"]["message"]


# GET /api/v1/key


def test_current_key_reports_label_limits_and_rate_limits(client, user):
    expires = timezone.now() + timedelta(days=3)
    key, secret = make_key(
        user,
        name="ci",
        limit_nanos=10_000_000_000,
        limit_reset="monthly",
        expires_at=expires,
        rpm_limit=30,
        tpm_limit=5000,
        allowed_models=["mock/echo"],
    )
    response = client.get("/api/v1/key", **bearer(secret))

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["label"] == key.masked and data["name"] == "ci"
    assert data["limit"] == 10.0 and data["limit_remaining"] == 10.0 and data["limit_reset"] == "monthly"
    assert data["usage"] == 0 and data["usage_daily"] == 0
    assert data["expires_at"].startswith(expires.strftime("%Y-%m-%dT%H:%M"))
    assert data["is_free_tier"] is False and data["is_management_key"] is False
    assert data["rate_limit"]["requests"] == 30 and data["rate_limit"]["tokens"] == 5000
    assert data["allowed_models"] == ["mock/echo"]
    assert secret not in response.content.decode()


def test_current_key_usage_by_day_week_and_month_from_generations(client, user):
    key, secret = make_key(user, limit_nanos=None)
    other, _ = make_key(user, name="other")
    now = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday
    _generation(user, key, 1_000_000_000, now - timedelta(hours=1), 1)  # today
    _generation(user, key, 2_000_000_000, now - timedelta(days=1), 2)  # Tuesday: this week
    _generation(user, key, 4_000_000_000, now - timedelta(days=10), 3)  # this month
    _generation(user, key, 8_000_000_000, now - timedelta(days=40), 4)  # last month
    _generation(user, other, 16_000_000_000, now - timedelta(hours=1), 5)  # another key
    ApiKey.objects.filter(pk=key.pk).update(usage_nanos=15_000_000_000)

    from unittest import mock

    with mock.patch("accounts.selectors.timezone.now", return_value=now):
        data = client.get("/api/v1/key", **bearer(secret)).json()["data"]

    assert (data["usage"], data["usage_daily"], data["usage_weekly"], data["usage_monthly"]) == (
        15.0,
        1.0,
        3.0,
        7.0,
    )
    assert data["limit"] is None and data["limit_remaining"] is None and data["limit_reset"] is None


def test_limit_remaining_counts_only_the_current_period(client, user):
    key, secret = make_key(user, limit_nanos=5_000_000_000, limit_reset="daily")
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    ApiKey.objects.filter(pk=key.pk).update(
        usage_nanos=9_000_000_000, period_usage_nanos=1_500_000_000, period_start=today
    )
    assert client.get("/api/v1/key", **bearer(secret)).json()["data"]["limit_remaining"] == 3.5
    # A counter from an earlier day no longer counts.
    ApiKey.objects.filter(pk=key.pk).update(period_start=today - timedelta(days=1))
    assert client.get("/api/v1/key", **bearer(secret)).json()["data"]["limit_remaining"] == 5.0


def test_total_limit_counts_all_spend(client, user):
    key, secret = make_key(user, limit_nanos=5_000_000_000)
    ApiKey.objects.filter(pk=key.pk).update(usage_nanos=6_000_000_000)
    data = client.get("/api/v1/key", **bearer(secret)).json()["data"]
    assert data["limit_remaining"] == 0.0 and data["limit_reset"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"revoked_at": timezone.now()}, "revoked"),
        ({"disabled": True}, "disabled"),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expired"),
    ],
)
def test_revoked_disabled_or_expired_key_gets_401(client, user, change, message):
    key, secret = make_key(user)
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(**change)
    response = client.get("/api/v1/key", **bearer(secret))
    _assert_openai_error(response, 401, message)
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Bearer pg-v1-not-a-real-key"}, {"HTTP_AUTHORIZATION": "Bearer "}],
)
def test_missing_or_unknown_key_gets_401(client, db, headers):
    _assert_openai_error(client.get("/api/v1/key", **headers), 401, "")


def test_current_key_needs_a_key_not_a_session(client_a):
    assert client_a.get("/api/v1/key").status_code == 401


def test_key_of_a_deactivated_user_gets_401(client, user):
    _, secret = make_key(user)
    user.is_active = False
    user.save()
    _assert_openai_error(client.get("/api/v1/key", **bearer(secret)), 401, "Invalid API key")


# /api/v1/keys


@pytest.fixture
def mgmt_secret(user):
    return make_key(user, name="mgmt", kind=ApiKey.Kind.MANAGEMENT)[1]


def test_management_key_creates_a_key_and_gets_its_secret_once(client, user, mgmt_secret, catalog_model):
    response = client.post(
        "/api/v1/keys",
        {
            "name": "svc",
            "limit": 25.5,
            "limit_reset": "weekly",
            "rate_limit_rpm": 10,
            "allowed_models": ["mock/echo"],
            "expires_at": "2099-01-01T00:00:00Z",
        },
        content_type="application/json",
        **bearer(mgmt_secret),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["key"]
    assert secret.startswith("pg-v1-")
    key = ApiKey.objects.get(user=user, name="svc")
    assert key.limit_nanos == 25_500_000_000 and key.limit_reset == "weekly" and key.rpm_limit == 10
    assert body["data"]["id"] == key.pk and body["data"]["label"] == key.masked
    assert body["data"]["limit"] == 25.5 and body["data"]["allowed_models"] == ["mock/echo"]
    # The new key works, and the secret never comes back from the list or the detail.
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 200
    listed = client.get("/api/v1/keys", **bearer(mgmt_secret)).content.decode()
    detail = client.get(f"/api/v1/keys/{key.pk}", **bearer(mgmt_secret)).content.decode()
    assert secret not in listed and secret not in detail and "svc" in listed


def test_list_skips_disabled_unless_asked_and_never_shows_revoked(client, user, mgmt_secret):
    make_key(user, name="active")
    disabled, _ = make_key(user, name="off")
    revoked, _ = make_key(user, name="gone")
    ApiKey.objects.filter(pk=disabled.pk).update(disabled=True)
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())

    names = [k["name"] for k in client.get("/api/v1/keys", **bearer(mgmt_secret)).json()["data"]]
    assert "active" in names and "off" not in names and "gone" not in names
    names = [
        k["name"]
        for k in client.get("/api/v1/keys?include_disabled=true", **bearer(mgmt_secret)).json()["data"]
    ]
    assert "off" in names and "gone" not in names


def test_list_pages_with_offset(client, user, mgmt_secret):
    for i in range(3):
        make_key(user, name=f"k{i}")
    first = client.get("/api/v1/keys?offset=0", **bearer(mgmt_secret)).json()["data"]
    rest = client.get("/api/v1/keys?offset=2", **bearer(mgmt_secret)).json()["data"]
    assert len(first) == 4 and len(rest) == 2 and rest == first[2:]


def test_get_update_and_delete_by_id_or_hash(client, user, mgmt_secret):
    key, secret = make_key(user, name="target")
    for ref in (key.pk, key.secret_hash):
        assert client.get(f"/api/v1/keys/{ref}", **bearer(mgmt_secret)).json()["data"]["name"] == "target"

    response = client.patch(
        f"/api/v1/keys/{key.secret_hash}",
        {"name": "patched", "limit": 1, "limit_reset": "daily", "disabled": True},
        content_type="application/json",
        **bearer(mgmt_secret),
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["name"], data["limit"], data["limit_reset"], data["disabled"]) == (
        "patched",
        1.0,
        "daily",
        True,
    )
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 401  # disabled

    response = client.patch(
        f"/api/v1/keys/{key.pk}",
        {"disabled": False, "limit": None, "limit_reset": None},
        content_type="application/json",
        **bearer(mgmt_secret),
    )
    key.refresh_from_db()
    assert (
        not key.disabled and key.limit_nanos is None and key.limit_reset == "never" and key.name == "patched"
    )
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 200

    response = client.delete(f"/api/v1/keys/{key.pk}", **bearer(mgmt_secret))
    assert response.status_code == 200 and response.json() == {"deleted": True}
    key.refresh_from_db()
    assert key.status == "revoked"
    assert client.get("/api/v1/key", **bearer(secret)).status_code == 401
    assert client.get(f"/api/v1/keys/{key.pk}", **bearer(mgmt_secret)).status_code == 404


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "limit": -1}, "limit"),
        ({"name": "x", "limit_reset": "hourly"}, "limit_reset"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "allowed_models": ["nope/unknown"]}, "allowed_models"),
        ({"limit": 1}, "name"),
    ],
)
def test_create_rejects_bad_input_with_openai_shaped_400(client, user, mgmt_secret, payload, param):
    response = client.post("/api/v1/keys", payload, content_type="application/json", **bearer(mgmt_secret))
    _assert_openai_error(response, 400, param)
    assert response.json()["error"]["param"] == param
    assert ApiKey.objects.filter(user=user).count() == 1


def test_standard_key_cannot_manage_keys(client, key_and_secret):
    key, secret = key_and_secret
    _assert_openai_error(client.get("/api/v1/keys", **bearer(secret)), 403, "management")
    response = client.post("/api/v1/keys", {"name": "x"}, content_type="application/json", **bearer(secret))
    _assert_openai_error(response, 403, "management")
    _assert_openai_error(client.delete(f"/api/v1/keys/{key.pk}", **bearer(secret)), 403, "management")


def test_keys_api_without_credentials_gets_401(client, db):
    _assert_openai_error(client.get("/api/v1/keys"), 401, "")


def test_revoked_management_key_gets_401(client, user):
    key, secret = make_key(user, kind=ApiKey.Kind.MANAGEMENT)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    _assert_openai_error(client.get("/api/v1/keys", **bearer(secret)), 401, "revoked")


def test_signed_in_session_manages_keys(client_a, user):
    response = client_a.post("/api/v1/keys", {"name": "from session"}, content_type="application/json")
    assert response.status_code == 201
    assert [k["name"] for k in client_a.get("/api/v1/keys").json()["data"]] == ["from session"]


def test_playground_keys_are_not_in_the_api(client, user, mgmt_secret):
    key, _ = make_key(user, name="pg", kind=ApiKey.Kind.PLAYGROUND)
    assert "pg" not in [k["name"] for k in client.get("/api/v1/keys", **bearer(mgmt_secret)).json()["data"]]
    assert client.get(f"/api/v1/keys/{key.pk}", **bearer(mgmt_secret)).status_code == 404


def test_openapi_schema_describes_the_key_endpoints(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    assert {"get"} <= set(paths["/api/v1/key"]) and {"get", "post"} <= set(paths["/api/v1/keys"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/keys/{ref}"])
    created = paths["/api/v1/keys"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created["$ref"].endswith("/KeyCreated")
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert "key" in schema["components"]["schemas"]["KeyCreated"]["properties"]


def test_unauthenticated_client_class_is_not_csrf_exempted_by_bearer(db):
    # A session request without a CSRF token is refused even though the API also accepts keys.
    from accounts.tests.factories import UserFactory

    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    response = client.post("/api/v1/keys", {"name": "x"}, content_type="application/json")
    _assert_openai_error(response, 403, "CSRF")


def test_changing_the_reset_counts_the_new_periods_spend_so_far(client, user, mgmt_secret):
    key, secret = make_key(user, limit_nanos=10_000_000_000, limit_reset="daily")
    now = timezone.now()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    _generation(user, key, 1_000_000_000, now, 1)  # today
    _generation(user, key, 3_000_000_000, max(month_start, now - timedelta(days=2)), 2)  # this month
    _generation(user, key, 5_000_000_000, month_start - timedelta(days=1), 3)  # last month
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    ApiKey.objects.filter(pk=key.pk).update(
        usage_nanos=9_000_000_000, period_usage_nanos=1_000_000_000, period_start=today
    )

    client.patch(
        f"/api/v1/keys/{key.pk}",
        {"limit_reset": "monthly"},
        content_type="application/json",
        **bearer(mgmt_secret),
    )

    key.refresh_from_db()
    assert key.period_usage_nanos == 4_000_000_000 and key.period_start == month_start
    assert client.get("/api/v1/key", **bearer(secret)).json()["data"]["limit_remaining"] == 6.0


def test_oversized_body_to_the_keys_api_is_an_openai_shaped_413(client, mgmt_secret, settings):
    # Django refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE with its own HTML 400 page
    # unless the API's error handler turns the refusal into JSON.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"name": "' + "x" * 4096 + '"}'

    response = client.post("/api/v1/keys", body, content_type="application/json", **bearer(mgmt_secret))

    _assert_openai_error(response, 413, "too large")
    assert not ApiKey.objects.filter(name__startswith="xxx").exists()


def test_non_ascii_digits_never_name_a_key(client, user, mgmt_secret):
    key, _secret = make_key(user, name="target")
    arabic_indic = str(key.pk).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for ref in ("²", arabic_indic, "１"):
        response = client.get(f"/api/v1/keys/{ref}", **bearer(mgmt_secret))
        assert response.status_code == 404, ref
        assert "error" in response.json()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": 0}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "k", "rate_limit_rpm": "5"}, "rate_limit_rpm"),
        ({"name": "k", "limit": "1e300"}, "limit"),
        ({"name": "k", "limit": 1e300}, "limit"),
        ({"name": "k", "limit": 0.0000000001}, "limit"),
        ({"name": "k", "allowed_models": [1]}, "allowed_models"),
    ],
)
def test_a_key_body_of_the_wrong_json_type_or_precision_is_a_400(client, mgmt_secret, body, param):
    response = client.post("/api/v1/keys", body, content_type="application/json", **bearer(mgmt_secret))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["param"] == param


def test_a_key_limit_to_the_nano_and_an_integral_float_are_accepted(client, mgmt_secret):
    body = {"name": "k", "limit": 0.000000001, "rate_limit_rpm": 60.0, "expires_at": ""}
    response = client.post("/api/v1/keys", body, content_type="application/json", **bearer(mgmt_secret))
    assert response.status_code == 201, response.content
    assert response.json()["data"]["rate_limit"]["requests"] == 60


@pytest.mark.parametrize(
    "query", ["offset=abc", "offset=-1", "offset=", "offset=1&offset=2", "include_disabled=yes"]
)
def test_a_malformed_key_list_query_is_a_400(client, mgmt_secret, query):
    response = client.get(f"/api/v1/keys?{query}", **bearer(mgmt_secret))
    assert response.status_code == 400, response.content
