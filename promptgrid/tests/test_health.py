import os

import pytest
from django.db import OperationalError
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from promptgrid import health


@pytest.fixture(autouse=True)
def _forget_migration_state(monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any query would raise here.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["cache-control"] == "no-store"


@pytest.mark.django_db
def test_readyz_is_ready_when_the_database_is_reachable_and_migrated(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    assert body["checks"]["redis"] in ("ok", "not configured")


@pytest.mark.django_db
def test_readyz_says_which_migrations_are_missing(client, monkeypatch):
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets: [("m1", False), ("m2", False)]
    )

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["migrations"] == "2 unapplied"


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_database_is_unreachable(client, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unreachable (OperationalError)"


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_readyz_is_unavailable_when_configured_redis_is_down(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("unreachable")
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_readyz_pings_the_configured_redis(client):
    assert client.get("/readyz").json()["checks"]["redis"] == "ok"


def test_probes_refuse_writes(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
