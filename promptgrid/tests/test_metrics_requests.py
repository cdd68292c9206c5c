"""Metrics and the request log after real chat completion requests through the gateway."""

import io
import json
import logging
import uuid

import orjson
import pytest
from asgiref.sync import async_to_sync

from promptgrid.observability.logs import JsonFormatter
from promptgrid.tests.metrics_helpers import sample_value, scrape

pytestmark = pytest.mark.django_db

PROMPT = "a private question about the quarterly numbers"


def post(body: dict, secret: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    # The gateway tests' in-process caller: it closes streams and SDK clients as a server would.
    from gateway.tests.conftest import _call

    result = async_to_sync(_call)(body, secret, extra=headers)
    return result.status, result.headers, result.body


@pytest.fixture
def model(make_mock_model):
    slug = f"mock/metrics-{uuid.uuid4().hex[:8]}"
    make_mock_model(slug=slug, upstream_model="echo", input_price="1", output_price="2")
    return slug


@pytest.fixture
def log_lines():
    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    handler.setStream(previous)


def _chat(model: str, **fields) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": PROMPT}], **fields}


def test_a_scrape_after_real_requests_shows_their_counts_tokens_and_cost(client, model, make_customer):
    customer = make_customer()
    before = scrape(client)
    holds_before = sample_value(before, "promptgrid_holds_in_flight")
    streams_before = sample_value(before, "promptgrid_open_streams")

    answers = [post(_chat(model), customer.secret) for _ in range(3)]
    streamed = post(_chat(model, stream=True), customer.secret)

    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert streamed[0] == 200
    usage = orjson.loads(answers[0][2])["usage"]
    text = scrape(client)
    assert sample_value(text, "promptgrid_requests_total", model=model, provider="mock", status="200") == 4
    prompt_tokens = sample_value(text, "promptgrid_tokens_total", model=model, direction="prompt")
    completion_tokens = sample_value(text, "promptgrid_tokens_total", model=model, direction="completion")
    assert prompt_tokens >= 4 * usage["prompt_tokens"] - 4  # the streamed one may count a little differently
    assert completion_tokens >= 3 * usage["completion_tokens"]
    cost = sample_value(text, "promptgrid_cost_usd_total", model=model)
    assert cost == pytest.approx((prompt_tokens * 1 + completion_tokens * 2) / 1_000_000)
    assert sample_value(text, "promptgrid_request_latency_seconds_count", model=model) == 4
    assert sample_value(text, "promptgrid_time_to_first_token_seconds_count", model=model) >= 1
    # Every hold was settled and every stream closed.
    assert sample_value(text, "promptgrid_holds_in_flight") == holds_before
    assert sample_value(text, "promptgrid_open_streams") == streams_before


def test_rejected_requests_are_counted_under_their_status(client, model, make_customer):
    make_customer()
    before = sample_value(scrape(client), "promptgrid_requests_total", model="(none)", status="401")

    status, _, _ = post(_chat(model), "pg-v1-not-a-real-key-0000000000000000000000000")

    assert status == 401
    after = sample_value(scrape(client), "promptgrid_requests_total", model="(none)", status="401")
    assert after == before + 1


def test_each_request_logs_one_line_under_the_id_the_client_got_and_never_the_prompt(
    model, make_customer, log_lines
):
    customer = make_customer()

    status, headers, body = post(_chat(model), customer.secret, **{"x-request-id": "client-trace-1"})
    streamed_status, streamed_headers, _ = post(_chat(model, stream=True), customer.secret)

    assert (status, streamed_status) == (200, 200)
    assert headers["x-request-id"] == "client-trace-1"
    lines = [entry for entry in log_lines() if entry.get("event") == "chat_request"]
    assert [entry["request_id"] for entry in lines] == ["client-trace-1", streamed_headers["x-request-id"]]
    first, second = lines
    answer = orjson.loads(body)
    assert first["generation_id"] == answer["id"]
    assert (first["key_id"], first["model"], first["provider"], first["status"]) == (
        customer.key.id,
        model,
        "mock",
        200,
    )
    assert first["prompt_tokens"] == answer["usage"]["prompt_tokens"]
    assert first["completion_tokens"] == answer["usage"]["completion_tokens"]
    assert first["cost_nanos"] > 0 and first["latency_ms"] >= 0
    assert (first["streamed"], second["streamed"]) == (False, True)
    assert second["ttft_ms"] is not None
    everything = json.dumps(log_lines())
    assert PROMPT not in everything  # the echo model repeats it: neither prompt nor answer is logged
    assert customer.secret.removeprefix("pg-v1-") not in everything


@pytest.mark.django_db(transaction=True)
def test_through_the_production_asgi_app_the_api_returns_the_request_id_it_logs(
    client, live_server_url, make_customer, make_mock_model, log_lines
):
    import httpx

    customer = make_customer()
    slug = f"mock/live-{uuid.uuid4().hex[:8]}"
    make_mock_model(slug=slug, upstream_model="echo")

    with httpx.Client(base_url=live_server_url, timeout=20) as http:
        answer = http.post("/api/v1/chat/completions", json=_chat(slug), headers=customer.headers)
        streamed = http.post(
            "/api/v1/chat/completions", json=_chat(slug, stream=True), headers=customer.headers
        )
        healthz = http.get("/healthz")

    assert (answer.status_code, streamed.status_code) == (200, 200)
    ids = [answer.headers["x-request-id"], streamed.headers["x-request-id"]]
    assert all(i.startswith("req-") for i in ids) and healthz.headers["x-request-id"] not in ids
    lines = [
        entry for entry in log_lines() if entry.get("event") == "chat_request" and entry["model"] == slug
    ]
    assert [entry["request_id"] for entry in lines] == ids
    text = scrape(client)
    assert sample_value(text, "promptgrid_requests_total", model=slug, provider="mock", status="200") == 2
