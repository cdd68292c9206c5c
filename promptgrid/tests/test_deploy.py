import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "kq9Tq0Zg3p8Vf2xL1mN4bR7sW5yH6jC0dE8uA3iO9tG2vK1zX4wQ7nM5",
    "ALLOWED_HOSTS": "gateway.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://gateway.example.com",
    "SITE_URL": "https://gateway.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_COOKIES": "true",
    "SECURE_PROXY_SSL_HEADER": "true",
    "METRICS_TOKEN": "metrics-token-for-the-deploy-check",
}


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without test settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "DJANGO_SETTINGS_MODULE"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {**env, **extra}


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    done = _check_deploy(_clean_env(**PRODUCTION_ENV))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_flags_an_open_metrics_endpoint():
    env = _clean_env(**PRODUCTION_ENV)
    del env["METRICS_TOKEN"]

    done = _check_deploy(env)

    assert done.returncode != 0
    assert "promptgrid.W001" in done.stdout + done.stderr


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_responses_carry_the_security_headers(client):
    response = client.get("/healthz", secure=True)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@override_settings(SECURE_SSL_REDIRECT=True)
def test_probes_are_not_redirected_to_https_but_pages_are(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/docs/").status_code == 301


def _compose() -> dict:
    with open(ROOT / "docker-compose.yml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_compose_runs_postgres_redis_and_the_app_each_with_a_health_check():
    services = _compose()["services"]

    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["app"]["build"] == "."
    for name in ("postgres", "redis", "app"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL")
        assert check["interval"] and check["retries"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services["app"]["healthcheck"]["test"][-1] == "/readyz"


def test_the_app_starts_after_its_databases_are_healthy_and_gets_them_wired_in():
    app = _compose()["services"]["app"]

    assert app["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    env = app["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["DEBUG"] == "false"
    assert env["MIGRATE_ON_START"] == "true"
    assert env["PROMETHEUS_MULTIPROC_DIR"]
    assert ":?" in env["SECRET_KEY"]  # compose refuses to start without one
    assert app["expose"] == ["8000"] and "ports" not in app  # reached only through the proxy
    assert env["EMAIL_URL"].startswith("${EMAIL_URL")  # invitations need the app to send mail
    assert env["TRUSTED_PROXY_COUNT"].endswith("1}")


def test_slow_clients_meet_nginx_before_the_app():
    proxy = _compose()["services"]["proxy"]

    assert proxy["image"].startswith("nginx:")
    assert proxy["depends_on"] == {"app": {"condition": "service_healthy"}}
    assert proxy["ports"] == ["${PORT:-8000}:8080"]
    assert proxy["volumes"] == ["./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert (ROOT / "deploy" / "nginx.conf").is_file()  # run for real in test_reverse_proxy.py


def test_the_image_installs_the_pinned_requirements_collects_static_and_runs_the_start_script():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "collectstatic" in dockerfile
    assert "USER promptgrid" in dockerfile
    assert 'CMD ["bin/serve"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored and "db.sqlite3*" in ignored


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.mark.slow
def test_the_production_start_script_migrates_collects_and_serves_with_several_workers(tmp_path):
    port = _free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"stale values of a previous run")
    env = _clean_env(
        DEBUG="false",
        SECRET_KEY=PRODUCTION_ENV["SECRET_KEY"],
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        METRICS_TOKEN="scrape-me",
        PORT=str(port),
        HOST="127.0.0.1",
        WEB_CONCURRENCY="2",
        PYTHON=sys.executable,
    )
    env.pop("REDIS_URL", None)
    log_path = tmp_path / "server.log"
    log_file = open(log_path, "wb")
    server = subprocess.Popen(
        [str(ROOT / "bin" / "serve")],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                status, headers, _ = _get(f"{base}/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.5)
        assert status == 200
        assert headers["x-request-id"].startswith("req-")

        status, _, body = _get(f"{base}/readyz")
        assert status == 200, body  # migrations ran before the server started

        status, headers, _ = _get(f"{base}/static/js/htmx.min.js")
        assert status == 200  # whitenoise serves the collected files
        assert headers["content-type"].startswith("text/javascript")
        static_request_id = headers["x-request-id"]

        assert _get(f"{base}/metrics")[0] == 401
        status, _, body = _get(f"{base}/metrics", authorization="Bearer scrape-me")
        assert status == 200 and b"promptgrid_open_streams" in body
        assert not (metrics_dir / "counter_99999.db").exists()

        workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert len(workers) >= 2

        probe = subprocess.run(
            [sys.executable, str(ROOT / "bin" / "probe"), "/readyz"],
            env={**env, "ALLOWED_HOSTS": "localhost"},
            capture_output=True,
            timeout=30,
        )
        assert probe.returncode == 0, probe.stderr

        # Logs: the server's own lines and the app's access lines are JSON objects.
        entries = []
        for line in log_path.read_text().splitlines():
            if line.startswith("{"):
                entries.append(json.loads(line))
        assert any(
            e["logger"] == "uvicorn.error" and "Started server process" in e["message"] for e in entries
        )
        (access,) = [e for e in entries if e.get("request_id") == static_request_id]
        assert (access["event"], access["path"], access["status"]) == (
            "http_request",
            "/static/js/htmx.min.js",
            200,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log_file.close()


# Management commands: the list, and every command the project ships.
REQUIRED_COMMANDS = (
    "seed_catalog",
    "sync_prices",
    "create_api_key",
    "grant_credits",
    "audit_ledger",
    "release_expired_holds",
    "purge_logged_text",
    "seed_demo",
)
PROJECT_APPS = ("accounts", "billing", "catalog", "gateway", "gateway.dashboard", "promptgrid")


def _project_commands() -> dict[str, str]:
    from django.core.management import get_commands

    return {name: app for name, app in get_commands().items() if app in PROJECT_APPS}


def test_every_command_the_operators_need_exists():
    assert set(REQUIRED_COMMANDS) <= set(_project_commands())


@pytest.mark.parametrize("name", REQUIRED_COMMANDS)
def test_each_required_command_explains_itself(name):
    from django.core.management import load_command_class

    command = load_command_class(_project_commands()[name], name)
    text = command.create_parser("manage.py", name).format_help()

    assert command.help.strip(), f"{name} has no help text"
    assert f"usage: manage.py {name}" in text
    assert command.help.strip().split()[0] in text


def test_every_project_command_has_a_help_text():
    from django.core.management import load_command_class

    for name, app in _project_commands().items():
        command = load_command_class(app, name)
        assert command.help.strip(), f"{name} has no help text"
        command.create_parser("manage.py", name).format_help()


def test_help_runs_from_the_command_line():
    done = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--help"],
        cwd=ROOT,
        env=_clean_env(DEBUG="true"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "usage: manage.py seed_demo" in done.stdout
