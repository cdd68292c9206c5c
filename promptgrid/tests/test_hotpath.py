"""Chat API requests skip the dashboard's middleware; every other path keeps it."""

import asyncio

import pytest
from django.conf import settings

from promptgrid.hotpath import API_PATHS, LeanASGIHandler, split_http


async def _get(app, path: str, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    sent: list[dict] = []
    received = False

    async def receive() -> dict:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected; Django cancels this wait
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


@pytest.mark.django_db(transaction=True)
async def test_chat_api_answers_without_the_dashboard_middleware():
    from promptgrid.asgi import http_application

    status, headers, body = await _get(http_application, "/api/v1/chat/completions")

    assert status == 401 and b"invalid_api_key" in body
    assert headers["x-request-id"].startswith("req-")  # RequestIdMiddleware still runs
    assert headers["x-content-type-options"] == "nosniff"  # and SecurityMiddleware
    assert "x-frame-options" not in headers  # the dashboard's clickjacking middleware does not
    assert "cookie" not in headers.get("vary", "").lower()


@pytest.mark.django_db(transaction=True)
async def test_other_paths_keep_the_full_middleware_stack():
    from promptgrid.asgi import http_application

    status, headers, _ = await _get(http_application, "/healthz", method="GET")

    assert status == 200
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-request-id"].startswith("req-")


def test_the_lean_handler_keeps_the_project_order_and_leaves_settings_alone():
    before = list(settings.MIDDLEWARE)
    handler = LeanASGIHandler(("django.middleware.security.SecurityMiddleware",))

    assert settings.MIDDLEWARE == before
    assert handler._middleware_chain is not None


async def test_split_sends_only_the_api_paths_to_the_lean_handler():
    calls: list[str] = []

    def app(name: str):
        async def inner(scope, receive, send) -> None:
            calls.append(name)

        return inner

    split = split_http(app("full"), app("lean"))
    for path in (*sorted(API_PATHS), "/api/v1/models", "/", "/api/v1/chat/completions/x"):
        await split({"type": "http", "path": path}, None, None)

    assert calls == ["lean"] * len(API_PATHS) + ["full", "full", "full"]
