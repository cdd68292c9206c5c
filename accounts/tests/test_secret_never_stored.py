"""A key's secret is shown once and then exists nowhere: not in any table, session, log or page."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection

from accounts.secrets import hash_secret
from accounts.tests.conftest import bearer


def _tables_containing(needle: str) -> list[str]:
    """Every column of every table, compared as text: where does ``needle`` occur?"""
    hits = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                cursor.execute(
                    f"SELECT COUNT(*) FROM {quote(table)} WHERE CAST({quote(column.name)} AS TEXT) LIKE %s",
                    [f"%{needle}%"],
                )
                if cursor.fetchone()[0]:
                    hits.append(f"{table}.{column.name}")
    # Session data is signed and encoded: look inside it too.
    for session in Session.objects.all():
        if needle in repr(session.get_decoded()):
            hits.append(f"django_session[{session.session_key}]")
    return hits


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def _secret_from_page(html: str) -> str:
    return html.split('id="new-key-secret">', 1)[1].split("<", 1)[0]


def test_scan_finds_a_known_value_so_an_empty_result_means_something(user):
    assert "auth_user.email" in _tables_containing("alice@example.com")


def test_secret_created_on_the_keys_page_is_stored_nowhere(client_a, user, all_logs):
    response = client_a.post("/keys/new/", {"name": "page key", "limit_reset": "never"})
    secret = _secret_from_page(response.content.decode())
    key = user.api_keys.get(name="page key")
    assert key.secret_hash == hash_secret(secret)
    # Use it, as a client would.
    assert client_a.get("/api/v1/key", **bearer(secret)).status_code == 200

    assert _tables_containing(secret) == []
    assert _tables_containing(secret[6:]) == []  # nor its random part alone
    assert secret not in all_logs.text
    for url in ("/keys/", f"/keys/{key.pk}/edit/", f"/keys/{key.pk}/revoke/", "/settings/", "/api/v1/keys"):
        assert secret not in client_a.get(url).content.decode(), url


def test_secret_created_through_the_api_is_stored_nowhere(client_a, user, all_logs):
    response = client_a.post("/api/v1/keys", {"name": "api key"}, content_type="application/json")
    secret = response.json()["key"]
    assert _tables_containing(secret) == []
    assert secret not in all_logs.text
    key_id = response.json()["data"]["id"]
    assert secret not in client_a.get(f"/api/v1/keys/{key_id}").content.decode()
    assert secret not in client_a.get("/api/v1/key", **bearer(secret)).content.decode()


def test_secret_created_by_the_command_is_stored_nowhere(db, all_logs):
    out = StringIO()
    call_command("create_api_key", "--email", "cli@example.com", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("pg-v1-")
    assert _tables_containing(secret) == []
    assert secret not in all_logs.text


def test_a_rejected_secret_is_not_logged_either(client, db, all_logs):
    client.get("/api/v1/key", HTTP_AUTHORIZATION="Bearer pg-v1-this-one-is-made-up-0123456789")
    assert "this-one-is-made-up" not in all_logs.text
