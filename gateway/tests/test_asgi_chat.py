"""The chat endpoint as production serves it: straight from ASGI (``gateway.asgi.serve_chat``)
under uvicorn, with raw sockets where a client must hang up at a precise moment."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from django.db import OperationalError

from billing.models import Generation
from gateway.pipeline.tokens import tokens_for_chars

pytestmark = pytest.mark.django_db(transaction=True)


def _request(url: str, secret: str, body: dict) -> bytes:
    host = urlsplit(url)
    data = orjson.dumps(body)
    head = (
        f"POST /api/v1/chat/completions HTTP/1.1\r\nHost: {host.netloc}\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _connect(url: str) -> socket.socket:
    host = urlsplit(url)
    return socket.create_connection((host.hostname, host.port), timeout=10)


def _wait_for_generation(timeout: float = 10.0) -> Generation:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            gen = Generation.objects.first()
        except OperationalError:  # SQLite's shared cache: the server is writing that table
            gen = None
        if gen is not None:
            return gen
        time.sleep(0.02)
    raise AssertionError("no Generation was recorded")


def test_hanging_up_mid_stream_bills_what_reached_the_client(live_server_url, make_customer, make_mock_model):
    make_mock_model(slug="mock/lorem", upstream_model="lorem", input_price="1", output_price="2")
    customer = make_customer()
    before = customer.balance()
    body = {
        "model": "mock/lorem",
        "messages": [{"role": "user", "content": "go"}],
        "max_tokens": 500,
        "stream": True,
        "mock_delay_ms": 20,
    }
    with _connect(live_server_url) as sock:
        sock.sendall(_request(live_server_url, customer.secret, body))
        received = b""
        while received.count(b"data: {") < 3:
            received += sock.recv(65536)

    gen = _wait_for_generation()
    assert gen.status == "cancelled"
    assert 0 < gen.completion_tokens < 500
    assert gen.cost_nanos == gen.prompt_tokens * 1000 + gen.completion_tokens * 2000
    assert before - customer.balance() == gen.cost_nanos
    assert customer.held() == 0


def test_hanging_up_before_a_whole_answer_costs_nothing(live_server_url, make_customer, make_mock_model):
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    before = customer.balance()
    body = {"model": "mock/echo", "messages": [{"role": "user", "content": "slow"}], "mock_delay_ms": 2000}
    with _connect(live_server_url) as sock:
        sock.sendall(_request(live_server_url, customer.secret, body))
        time.sleep(0.3)  # the hold is placed, the answer is not ready

    gen = _wait_for_generation()
    assert (gen.status, gen.http_status, gen.cost_nanos) == ("cancelled", 499, 0)
    assert customer.balance() == before and customer.held() == 0


def test_a_whole_stream_arrives_with_usage_and_request_id(live_server_url, make_customer, make_mock_model):
    make_mock_model(input_price="1", output_price="2")
    customer = make_customer()
    headers = {"Authorization": f"Bearer {customer.secret}", "X-Request-Id": "trace-42"}
    body = {"model": "mock/echo", "messages": [{"role": "user", "content": "a b c d"}], "stream": True}
    with httpx.stream("POST", f"{live_server_url}/api/v1/chat/completions", json=body, headers=headers) as r:
        raw = r.read()
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers["x-request-id"] == "trace-42"
        assert r.headers["cache-control"] == "no-cache"
    events = [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "a b c d"
    gen = Generation.objects.get()
    assert chunks[-1]["usage"]["completion_tokens"] == gen.completion_tokens == tokens_for_chars(len(text))
    assert r.headers["x-generation-id"] == gen.id


def test_wrong_method_and_bad_bodies_get_json_errors(live_server_url, make_customer, make_mock_model):
    make_mock_model()
    customer = make_customer()
    url = f"{live_server_url}/api/v1/chat/completions"
    auth = {"Authorization": f"Bearer {customer.secret}"}

    wrong = httpx.get(url, headers=auth)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["message"] == "Use POST."

    broken = httpx.post(url, content=b"{not json", headers={**auth, "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["type"] == "invalid_request_error"
    assert broken.headers["x-request-id"].startswith("req-")

    anonymous = httpx.post(url, json={"model": "mock/echo", "messages": []})
    assert anonymous.status_code == 401
    assert Generation.objects.count() == 0


def test_the_chat_path_refuses_a_host_outside_allowed_hosts(live_server_url, make_customer, make_mock_model):
    make_mock_model()
    customer = make_customer()
    body = {"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}
    url = f"{live_server_url}/api/v1/chat/completions"

    refused = httpx.post(url, json=body, headers={**customer.headers, "Host": "evil.example"}, timeout=10)
    served = httpx.post(url, json=body, headers=customer.headers, timeout=10)

    assert refused.status_code == 400 and "Host" in refused.json()["error"]["message"]
    assert served.status_code == 200


def test_two_authorization_headers_are_refused_on_the_chat_path(
    live_server_url, make_customer, make_mock_model
):
    make_mock_model()
    customer = make_customer()
    body = {"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}
    headers = [
        ("Authorization", "Bearer pg-v1-somebody-else"),
        ("Authorization", f"Bearer {customer.secret}"),
    ]

    response = httpx.post(
        f"{live_server_url}/api/v1/chat/completions", json=body, headers=headers, timeout=10
    )

    assert response.status_code == 401
    assert not Generation.objects.filter(user=customer.user).exists()
