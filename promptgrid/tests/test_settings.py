"""Settings come from the environment, strictly: each case starts a fresh Python process.

The parent's environment is not inherited (only PATH and HOME), so a developer's
DATABASE_URL or REDIS_URL cannot change what these tests see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REAL_SECRET = "a-real-secret-key-for-tests-0123456789-abcdefghijklmnop"

_PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "DEBUG": s.DEBUG,
    "ENGINE": db["ENGINE"], "NAME": str(db["NAME"]), "HOST": db.get("HOST", ""), "PORT": db.get("PORT", ""),
    "USER": db.get("USER", ""),
    "CACHE": s.CACHES["default"]["BACKEND"], "CACHE_LOCATION": s.CACHES["default"].get("LOCATION", ""),
    "CHANNELS": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "CHANNEL_HOSTS": s.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", []),
    "PROVIDER_ENV": s.PROVIDER_ENV,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT, "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE, "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS, "CSRF_TRUSTED_ORIGINS": s.CSRF_TRUSTED_ORIGINS,
    "INSTALLED_APPS": s.INSTALLED_APPS, "ASGI_APPLICATION": s.ASGI_APPLICATION,
    "CATALOG_CACHE_SECONDS": s.CATALOG_CACHE_SECONDS,
    "GATEWAY_DB_ASYNC": s.GATEWAY_DB_ASYNC, "GATEWAY_DB_POOL_SIZE": s.GATEWAY_DB_POOL_SIZE,
    "METRICS_PUBLIC": s.METRICS_PUBLIC,
}))
"""


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "promptgrid.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def settings_for(**env: str) -> dict:
    result = run(_PRINT_SETTINGS, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def refusal(**env: str) -> str:
    """Start with ``env``, expect a refusal, return the error the operator sees."""
    result = run(_PRINT_SETTINGS, **env)
    assert result.returncode != 0, f"started although it should have refused: {result.stdout}"
    assert "ImproperlyConfigured" in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


# --- secrets and DEBUG ----------------------------------------------------------------


def test_debug_off_with_the_development_secret_refuses_and_says_how_to_fix():
    message = refusal()  # DEBUG defaults to off, SECRET_KEY to the development key
    assert "SECRET_KEY" in message
    assert "DEBUG" in message
    assert "secrets.token_urlsafe" in message  # tells how to make one


def test_debug_on_accepts_the_development_secret():
    assert settings_for(DEBUG="true")["DEBUG"] is True


def test_short_secret_refuses():
    assert "at least 32 characters" in refusal(SECRET_KEY="short")


def test_secret_can_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(REAL_SECRET + "\n")
    assert settings_for(SECRET_KEY_FILE=str(secret_file))["DEBUG"] is False


def test_unreadable_secret_file_refuses(tmp_path):
    assert "SECRET_KEY_FILE" in refusal(SECRET_KEY_FILE=str(tmp_path / "missing"))


# --- booleans and numbers -------------------------------------------------------------


@pytest.mark.parametrize("name", ["DEBUG", "SECURE_SSL_REDIRECT", "SECURE_COOKIES", "METRICS_ENABLED"])
def test_ambiguous_booleans_refuse(name):
    message = refusal(SECRET_KEY=REAL_SECRET, **{name: "maybe"})
    assert f"{name}='maybe' is not a boolean" in message
    assert "true/false" in message


@pytest.mark.parametrize("value, complaint", [("soon", "whole number"), ("-1", "at least 0")])
def test_bad_numbers_refuse(value, complaint):
    assert complaint in refusal(SECRET_KEY=REAL_SECRET, CATALOG_CACHE_SECONDS=value)


@pytest.mark.parametrize("name, value", [("LOG_LEVEL", "LOUD"), ("LOG_FORMAT", "xml")])
def test_bad_log_settings_refuse(name, value):
    assert name in refusal(SECRET_KEY=REAL_SECRET, **{name: value})


@pytest.mark.parametrize("name", ["SITE_URL", "STRIPE_API_BASE"])
def test_other_malformed_urls_refuse(name):
    assert f"{name}='127.0.0.1:8000' is not a valid URL" in refusal(
        SECRET_KEY=REAL_SECRET, **{name: "127.0.0.1:8000"}
    )


# --- database -------------------------------------------------------------------------


def test_default_database_is_a_sqlite_file_in_the_project_folder():
    result = settings_for(SECRET_KEY=REAL_SECRET)
    assert result["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(result["NAME"]) == ROOT / "db.sqlite3"


def test_postgres_url_uses_the_postgresql_backend():
    result = settings_for(SECRET_KEY=REAL_SECRET, DATABASE_URL="postgres://pg:pw@db.internal:5433/promptgrid")
    assert result["ENGINE"] == "django.db.backends.postgresql"
    assert (result["NAME"], result["HOST"], result["PORT"], result["USER"]) == (
        "promptgrid",
        "db.internal",
        5433,
        "pg",
    )


@pytest.mark.parametrize("url", ["mysql://u@h/db", "db.sqlite3", "postgres://", "localhost:5432/promptgrid"])
def test_malformed_database_url_refuses(url):
    message = refusal(SECRET_KEY=REAL_SECRET, DATABASE_URL=url)
    assert "DATABASE_URL" in message
    assert "postgres://" in message  # says what a valid value looks like


PG_URL = "postgres://pg:pw@db.internal:5433/promptgrid"


def test_the_hot_path_awaits_postgresql_on_its_async_pool_by_default():
    assert settings_for(SECRET_KEY=REAL_SECRET, DATABASE_URL=PG_URL)["GATEWAY_DB_ASYNC"] is True
    assert settings_for(SECRET_KEY=REAL_SECRET)["GATEWAY_DB_ASYNC"] is False  # SQLite
    off = settings_for(SECRET_KEY=REAL_SECRET, DATABASE_URL=PG_URL, GATEWAY_DB_SHARED_THREADS="false")
    assert off["GATEWAY_DB_ASYNC"] is False
    sized = settings_for(SECRET_KEY=REAL_SECRET, DATABASE_URL=PG_URL, GATEWAY_DB_POOL_SIZE="2")
    assert (sized["GATEWAY_DB_ASYNC"], sized["GATEWAY_DB_POOL_SIZE"]) == (True, 2)


def test_the_async_pool_on_sqlite_refuses():
    assert "needs PostgreSQL" in refusal(SECRET_KEY=REAL_SECRET, GATEWAY_DB_ASYNC="true")
    assert "at least 1" in refusal(SECRET_KEY=REAL_SECRET, DATABASE_URL=PG_URL, GATEWAY_DB_POOL_SIZE="0")


# --- Redis ----------------------------------------------------------------------------


def test_without_redis_cache_and_channel_layer_stay_in_memory():
    result = settings_for(SECRET_KEY=REAL_SECRET)
    assert result["CACHE"] == "django.core.cache.backends.locmem.LocMemCache"
    assert result["CHANNELS"] == "channels.layers.InMemoryChannelLayer"


def test_redis_url_switches_cache_and_channel_layer_to_redis():
    url = "redis://127.0.0.1:6379/3"
    result = settings_for(SECRET_KEY=REAL_SECRET, REDIS_URL=url)
    # Django's Redis cache, where an outage is a miss (promptgrid/redis_down.py).
    assert (result["CACHE"], result["CACHE_LOCATION"]) == ("promptgrid.redis_down.TolerantRedisCache", url)
    assert (result["CHANNELS"], result["CHANNEL_HOSTS"]) == ("channels_redis.core.RedisChannelLayer", [url])


@pytest.mark.parametrize("url", ["localhost:6379", "http://127.0.0.1:6379", "redis//127.0.0.1"])
def test_malformed_redis_url_refuses(url):
    message = refusal(SECRET_KEY=REAL_SECRET, REDIS_URL=url)
    assert "REDIS_URL" in message and "redis://" in message


# --- providers ------------------------------------------------------------------------


def test_provider_keys_and_base_urls_are_read_from_the_environment():
    result = settings_for(
        SECRET_KEY=REAL_SECRET,
        OPENAI_API_KEY="sk-env",
        OPENAI_BASE_URL="http://127.0.0.1:8080/v1",
        ANTHROPIC_API_KEY="sk-ant-env",
        GEMINI_API_KEY="gm-env",
        GEMINI_BASE_URL="https://gemini.example.com",
    )
    assert result["PROVIDER_ENV"] == {
        "openai": {"api_key": "sk-env", "base_url": "http://127.0.0.1:8080/v1"},
        "anthropic": {"api_key": "sk-ant-env", "base_url": ""},
        "google": {"api_key": "gm-env", "base_url": "https://gemini.example.com"},
    }


@pytest.mark.parametrize("name", ["OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GEMINI_BASE_URL"])
@pytest.mark.parametrize("url", ["api.openai.com/v1", "ftp://api.example.com", "https://"])
def test_malformed_provider_base_url_refuses(name, url):
    message = refusal(SECRET_KEY=REAL_SECRET, **{name: url})
    assert name in message


def test_environment_key_overrides_the_provider_record_through_the_snapshot(tmp_path):
    """End to end in a fresh process: the record says one key, the environment wins."""
    env = {
        "SECRET_KEY": REAL_SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "OPENAI_API_KEY": "sk-from-env",
    }
    code = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("seed_catalog", verbosity=0)
from catalog.models import Provider
Provider.objects.filter(slug="openai").update(api_key="sk-from-record")
Provider.objects.filter(slug="anthropic").update(api_key="sk-ant-record")
from catalog.snapshot import build_snapshot
models = build_snapshot().models
print(models["openai/gpt-4o-mini"].endpoints[0].target.api_key)
print(models["anthropic/claude-sonnet-4-5"].endpoints[0].target.api_key)
print(len(models["google/gemini-2.5-flash"].endpoints))
"""
    result = run(code, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["sk-from-env", "sk-ant-record", "0"]


# --- serving --------------------------------------------------------------------------


def test_debug_off_still_serves_plain_http_until_tls_settings_are_turned_on():
    plain = settings_for(SECRET_KEY=REAL_SECRET)
    assert (plain["SECURE_SSL_REDIRECT"], plain["SECURE_HSTS_SECONDS"], plain["SESSION_COOKIE_SECURE"]) == (
        False,
        0,
        False,
    )
    behind_proxy = settings_for(
        SECRET_KEY=REAL_SECRET,
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_COOKIES="yes",
    )
    assert behind_proxy["SECURE_SSL_REDIRECT"] is True
    assert behind_proxy["SECURE_HSTS_SECONDS"] == 31536000
    assert behind_proxy["SESSION_COOKIE_SECURE"] is behind_proxy["CSRF_COOKIE_SECURE"] is True


def test_debug_off_answers_plain_http_on_loopback():
    code = """
import django
django.setup()
from django.test import Client
response = Client(HTTP_HOST="127.0.0.1").get("/no-such-page/")
print(response.status_code, response.get("Strict-Transport-Security", "-"))
"""
    result = run(code, SECRET_KEY=REAL_SECRET)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["404", "-"]  # answered over http: no redirect, no HSTS


def test_csrf_trusted_origin_without_scheme_refuses():
    assert "https://promptgrid.example.com" in refusal(
        SECRET_KEY=REAL_SECRET, CSRF_TRUSTED_ORIGINS="promptgrid.example.com"
    )


def test_lists_are_comma_separated():
    result = settings_for(
        SECRET_KEY=REAL_SECRET,
        ALLOWED_HOSTS="gw.example.com, .internal",
        CSRF_TRUSTED_ORIGINS="https://gw.example.com",
    )
    assert result["ALLOWED_HOSTS"] == ["gw.example.com", ".internal"]
    assert result["CSRF_TRUSTED_ORIGINS"] == ["https://gw.example.com"]


def test_daphne_serves_runserver_and_the_asgi_application_imports():
    result = settings_for(SECRET_KEY=REAL_SECRET)
    assert result["INSTALLED_APPS"][0] == "daphne"  # must precede staticfiles to take over runserver
    assert result["ASGI_APPLICATION"] == "promptgrid.asgi.application"
    code = """
from promptgrid.asgi import application
from channels.routing import ProtocolTypeRouter
assert isinstance(application, ProtocolTypeRouter), type(application)
print(sorted(application.application_mapping))
"""
    result = run(code, SECRET_KEY=REAL_SECRET)
    assert result.returncode == 0, result.stderr
    assert "'http', 'websocket'" in result.stdout


def test_a_server_process_leaves_runservers_daphne_and_twisted_out():
    code = """
import sys
from promptgrid.asgi import application
from django.conf import settings
print("daphne" in settings.INSTALLED_APPS, "twisted.internet.reactor" in sys.modules)
"""
    result = run(code, SECRET_KEY=REAL_SECRET)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_system_checks_pass_with_a_production_environment():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/tmp", "SECRET_KEY": REAL_SECRET},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_metrics_are_not_public_by_default_in_production():
    assert settings_for(SECRET_KEY=REAL_SECRET)["METRICS_PUBLIC"] is False
    assert settings_for(SECRET_KEY=REAL_SECRET, DEBUG="true")["METRICS_PUBLIC"] is True
