"""The official openai SDK against a running server (uvicorn serving promptgrid.asgi)."""

import socket
import time
from decimal import Decimal

import httpx
import openai
import pytest
from django.db import OperationalError

from billing.models import Generation
from gateway.tests.spec import assert_chunk, assert_completion

pytestmark = pytest.mark.django_db(transaction=True)

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
def world(live_server_url, make_customer, make_mock_model, make_openai_model):
    make_mock_model(input_price="1", output_price="2")
    make_openai_model()
    customer = make_customer()
    client = openai.OpenAI(
        base_url=f"{live_server_url}/api/v1", api_key=customer.secret, max_retries=0, timeout=20
    )
    yield customer, client, live_server_url
    client.close()


def _nanos(usage) -> int:
    return int(Decimal(str(usage.model_extra["cost"])) * 10**9)


@pytest.mark.parametrize("model", ["mock/echo", "openai/gpt-4o-mini"])
def test_sdk_non_streaming(world, model):
    customer, client, _ = world
    before = customer.balance()

    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Hello from the SDK"}]
    )
    completion = raw.parse()

    assert completion.choices[0].message.content == "Hello from the SDK"
    assert completion.model == model
    assert completion.id == raw.headers["x-generation-id"]
    assert raw.headers["x-request-id"]  # the one middleware the API path keeps
    assert "x-frame-options" not in raw.headers  # the site's middleware is skipped
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens == 5
    assert before - customer.balance() == _nanos(completion.usage) > 0
    assert_completion(raw.http_response.json())


@pytest.mark.parametrize("model", ["mock/echo", "openai/gpt-4o-mini"])
def test_sdk_streaming_with_usage(world, model):
    customer, client, _ = world
    before = customer.balance()

    chunks = list(
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "one two three four five"}], stream=True
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four five"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.completion_tokens == 6
    assert before - customer.balance() == _nanos(usage)
    for chunk in chunks:
        assert_chunk(chunk.model_dump(exclude_unset=True))


@pytest.mark.parametrize("stream", [False, True])
def test_sdk_tool_call_round_trip(world, stream):
    _, client, _ = world
    messages = [{"role": "user", "content": 'call get_weather {"city": "Oslo"}'}]
    if stream:
        chunks = list(
            client.chat.completions.create(model="mock/echo", messages=messages, tools=[TOOL], stream=True)
        )
        deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        call_id, name = deltas[0].id, deltas[0].function.name
        arguments = "".join(d.function.arguments or "" for d in deltas)
    else:
        message = (
            client.chat.completions.create(model="mock/echo", messages=messages, tools=[TOOL])
            .choices[0]
            .message
        )
        call_id, name, arguments = (
            message.tool_calls[0].id,
            message.tool_calls[0].function.name,
            message.tool_calls[0].function.arguments,
        )
    assert (name, arguments) == ("get_weather", '{"city":"Oslo"}')

    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "12 degrees"},
    ]
    answer = client.chat.completions.create(model="mock/echo", messages=messages, tools=[TOOL])
    assert answer.choices[0].message.content == "get_weather returned: 12 degrees"


def test_sdk_sees_openai_errors(world):
    _, client, _ = world
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nobody/nothing", messages=[{"role": "user", "content": "x"}])
    assert caught.value.param == "model"
    bad = openai.OpenAI(base_url=client.base_url, api_key="pg-v1-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="mock/echo", messages=[{"role": "user", "content": "x"}])
    bad.close()


def test_oversized_body_is_refused_before_it_is_sent(world, settings):
    _, _, url = world
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n{"
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")


def test_chunked_oversized_body_is_refused_while_it_streams(world):
    customer, _, url = world

    def body():
        for _ in range(200):
            yield b"x" * (1024 * 1024)

    response = httpx.post(
        f"{url}/api/v1/chat/completions", content=body(), headers=customer.headers, timeout=20
    )
    assert response.status_code == 413


def test_client_hanging_up_over_http_is_billed_for_what_it_got(world):
    customer, _, url = world
    before = customer.balance()
    body = {
        "model": "mock/echo",
        "messages": [{"role": "user", "content": " ".join(f"w{i}" for i in range(300))}],
        "stream": True,
        "mock_delay_ms": 20,
    }
    received = ""
    with httpx.stream(
        "POST", f"{url}/api/v1/chat/completions", json=body, headers=customer.headers, timeout=20
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data: ") and '"content"' in line:
                received += httpx.Response(200, content=line[6:]).json()["choices"][0]["delta"]["content"]
            if len(received) > 40:
                break
    gen = None
    for _ in range(200):
        try:
            gen = Generation.objects.first()
        except OperationalError:  # SQLite's shared in-memory test database: the server is writing
            gen = None
        if gen is not None:
            break
        time.sleep(0.025)
    assert gen.status == "cancelled"
    # Billed for what was produced: at most one chunk more than the client read.
    assert len(received) / 4 <= gen.completion_tokens <= (len(received) + 12) / 4 + 1
    assert before - customer.balance() == gen.cost_nanos
    assert customer.held() == 0


def test_client_giving_up_before_a_non_streamed_answer_pays_nothing(world):
    customer, _, url = world
    before = customer.balance()
    body = {
        "model": "mock/echo",
        "messages": [{"role": "user", "content": "too slow"}],
        "mock_delay_ms": 3000,
    }
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/api/v1/chat/completions", json=body, headers=customer.headers, timeout=0.5)
    gen = None
    for _ in range(200):
        try:
            gen = Generation.objects.first()
        except OperationalError:
            gen = None
        if gen is not None:
            break
        time.sleep(0.025)
    assert gen is not None and gen.status == "cancelled" and gen.cost_nanos == 0
    assert customer.balance() == before and customer.held() == 0
