"""The official ``anthropic`` SDK against PromptGrid's /api/v1/messages (uvicorn, ASGI fast path)."""

from __future__ import annotations

import json
import os
import subprocess

import anthropic
import httpx
import pytest

from billing.models import Generation
from gateway.pipeline.attribution import upstream_user
from tests.fakes.anthropic_server import anthropic_fake, fake_token_count
from tests.fixtures import create_anthropic_model
from tests.npm_tools import npm_tool

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The SDK warns that the dated id Claude Code sends is old; resolving it is the point here.
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def anthropic_upstream():
    with anthropic_fake() as fake:
        yield fake


@pytest.fixture
def world(live_server_url, make_customer, make_mock_model, make_openai_model, anthropic_upstream):
    make_mock_model(input_price="1", output_price="2")
    make_openai_model()
    create_anthropic_model(anthropic_upstream.url)
    customer = make_customer()
    client = anthropic.Anthropic(
        base_url=f"{live_server_url}/api", api_key=customer.secret, max_retries=0, timeout=20
    )
    yield customer, client, live_server_url, anthropic_upstream
    client.close()


def _generation(message_id: str) -> Generation:
    return Generation.objects.get(pk=message_id)


@pytest.mark.parametrize("model", ["mock/echo", "openai/gpt-4o-mini", "claude-sonnet-4-5-20250929"])
def test_a_message_is_answered_billed_and_recorded_as_the_messages_api(world, model):
    customer, client, _, _ = world
    before = customer.balance()

    message = client.messages.create(
        model=model,
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello from the SDK"}],
    )

    assert message.type == "message" and message.role == "assistant"
    text = "".join(block.text for block in message.content if block.type == "text")
    assert "Hello from the SDK" in text
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    gen = _generation(message.id)
    assert gen.api == "messages" and gen.status == "success" and gen.streamed is False
    assert gen.cost_nanos > 0 and before - customer.balance() == gen.cost_nanos
    assert gen.completion_tokens == message.usage.output_tokens
    if model.startswith("claude"):
        assert gen.model_slug == "anthropic/claude-sonnet-4-5"


@pytest.mark.parametrize("model", ["mock/echo", "openai/gpt-4o-mini", "claude-sonnet-4-5"])
def test_the_stream_accumulates_to_the_same_message_as_the_plain_call(world, model):
    customer, client, _, _ = world
    request = {
        "model": model,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "one two three four five"}],
    }
    plain = client.messages.create(**request)
    before = customer.balance()

    with client.messages.stream(**request) as stream:
        events = [event.type for event in stream]
        streamed = stream.get_final_message()

    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "content_block_delta" in events and "message_delta" in events
    assert [b.model_dump() for b in streamed.content] == [b.model_dump() for b in plain.content]
    assert streamed.stop_reason == plain.stop_reason
    assert streamed.usage.output_tokens == plain.usage.output_tokens
    gen = _generation(streamed.id)
    assert gen.api == "messages" and gen.streamed is True
    assert before - customer.balance() == gen.cost_nanos > 0


def test_usage_has_anthropics_meanings_and_the_cost_is_exact(world):
    customer, client, _, fake = world
    fake.push("usage")  # a thinking block, text, cache reads and writes, thinking tokens
    before = customer.balance()

    message = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "think hard"}],
    )

    gen = _generation(message.id)
    usage = message.usage
    # input_tokens excludes the cache reads and writes, which have their own fields.
    assert usage.cache_read_input_tokens == gen.cached_tokens > 0
    assert usage.cache_creation_input_tokens == gen.cache_write_tokens > 0
    assert usage.input_tokens == gen.prompt_tokens - gen.cached_tokens - gen.cache_write_tokens
    assert message.content[0].type == "thinking" and message.content[0].signature
    assert before - customer.balance() == gen.cost_nanos == 1_134_000
    sent = fake.requests[-1].json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_a_tool_round_trip(world):
    _, client, _, fake = world
    fake.push({"kind": "tool", "calls": 1, "text": "Checking."})
    first = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=200,
        tools=[WEATHER],
        tool_choice={"type": "auto"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"city": "Paris"}
    sent = fake.requests[-1].json
    assert sent["tools"][0]["name"] == "get_weather"
    assert sent["tools"][0]["input_schema"] == WEATHER["input_schema"]

    second = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=200,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21C"}],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    turns = fake.requests[-1].json["messages"]
    assert turns[1]["content"][-1] == {
        "type": "tool_use",
        "id": call.id,
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert turns[2]["content"][0]["type"] == "tool_result"
    assert turns[2]["content"][0]["tool_use_id"] == call.id


def test_errors_come_in_anthropics_shape_with_its_statuses(world):
    customer, client, url, fake = world
    missing = httpx.post(
        f"{url}/api/v1/messages",
        headers={"x-api-key": customer.secret},
        json={"model": "mock/echo", "messages": [{"role": "user", "content": "x"}]},
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in missing.json()["error"]["message"]

    bad = anthropic.Anthropic(base_url=f"{url}/api", api_key="pg-not-a-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="mock/echo", max_tokens=10, messages=[{"role": "user", "content": "x"}])

    with pytest.raises(anthropic.NotFoundError) as unknown:
        client.messages.create(
            model="nope/nothing", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert unknown.value.body["error"]["type"] == "not_found_error"

    fake.push("rate_limit")
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )

    raw = httpx.post(f"{url}/api/v1/messages", headers={"x-api-key": customer.secret}, content=b"{nope")
    assert raw.status_code == 400
    assert raw.json()["type"] == "error" and raw.json()["error"]["type"] == "invalid_request_error"
    assert customer.held() == 0


def test_a_key_spend_cap_holds_on_messages(world, make_customer):
    _, _, url, _ = world
    capped = make_customer(limit_nanos=1)
    client = anthropic.Anthropic(base_url=f"{url}/api", api_key=capped.secret, max_retries=0)
    before = capped.balance()
    with pytest.raises(anthropic.APIStatusError) as refused:
        client.messages.create(
            model="mock/echo", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 402
    assert refused.value.body["error"]["type"] == "billing_error"
    assert capped.balance() == before


def test_bearer_auth_and_anthropic_headers_are_accepted_and_count_tokens_estimates(world):
    customer, _, url, _ = world
    headers = {
        "Authorization": f"Bearer {customer.secret}",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "prompt-caching-2024-07-31",
    }
    body = {"model": "mock/echo", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi there"}]}
    answered = httpx.post(f"{url}/api/v1/messages", headers=headers, json=body)
    assert answered.status_code == 200 and answered.json()["type"] == "message"

    client = anthropic.Anthropic(base_url=f"{url}/api", api_key=customer.secret, max_retries=0)
    before = customer.balance()
    short = client.messages.count_tokens(model="mock/echo", messages=[{"role": "user", "content": "Hi"}])
    long = client.messages.count_tokens(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi " * 400}]
    )
    assert 0 < short.input_tokens < long.input_tokens
    assert customer.balance() == before  # counting is free


def test_count_tokens_is_anthropics_own_count_for_anthropic_models(world):
    customer, client, _, fake = world
    before = customer.balance()

    counted = client.messages.count_tokens(
        model="claude-sonnet-4-5-20250929",
        system="Be brief.",
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )

    sent = fake.requests[-1]
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.json["model"] == "claude-sonnet-4-5" and sent.json["tools"][0]["name"] == "get_weather"
    assert counted.input_tokens == fake_token_count(sent.json)
    assert customer.balance() == before and not Generation.objects.exists()


@pytest.mark.parametrize(
    "behaviour", ["usage", "redacted", {"kind": "tool", "calls": 2, "text": "Checking."}]
)
def test_streamed_thinking_and_tool_use_accumulate_like_the_plain_call(world, behaviour):
    customer, client, _, fake = world
    request = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 2000,
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "Weather in Paris and Rome?"}],
    }
    fake.push(behaviour)
    plain = client.messages.create(**request)
    fake.push(behaviour)
    before = customer.balance()

    with client.messages.stream(**request) as stream:
        streamed = stream.get_final_message()

    assert [b.model_dump() for b in streamed.content] == [b.model_dump() for b in plain.content]
    assert streamed.stop_reason == plain.stop_reason
    assert streamed.usage.model_dump() == plain.usage.model_dump()
    assert {b.type for b in plain.content} >= {"text"}
    gen = _generation(streamed.id)
    assert before - customer.balance() == gen.cost_nanos > 0


def test_a_failure_after_the_stream_began_is_an_error_event_and_bills_what_was_produced(world):
    customer, client, _, fake = world
    fake.push("error_event")
    before = customer.balance()

    with pytest.raises(anthropic.APIStatusError) as failed:
        with client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
        ) as stream:
            for _ in stream:
                pass

    assert failed.value.body["error"]["type"] == "overloaded_error"
    gen = Generation.objects.get(api="messages", status="error")
    assert before - customer.balance() == gen.cost_nanos
    assert customer.held() == 0


def test_a_get_is_refused_in_anthropics_shape(world):
    _, _, url, _ = world
    refused = httpx.get(f"{url}/api/v1/messages")
    assert refused.status_code == 405
    assert refused.json()["error"]["type"] == "invalid_request_error"


def test_claude_code_completes_a_prompt_through_promptgrid_billed(world, tmp_path):
    customer, _, url, _ = world
    claude = npm_tool("@anthropic-ai/claude-code@2.1.197", "claude-code", "claude")
    before = customer.balance()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "ANTHROPIC_BASE_URL": f"{url}/api",
        "ANTHROPIC_AUTH_TOKEN": customer.secret,
        "ANTHROPIC_MODEL": "mock/echo",
        "ANTHROPIC_SMALL_FAST_MODEL": "mock/echo",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "mock/echo",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }

    done = subprocess.run(
        [str(claude), "-p", "Reply with the word pineapple", "--output-format", "json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr + done.stdout
    result = json.loads(done.stdout)
    assert result["is_error"] is False and "pineapple" in result["result"]
    generations = Generation.objects.filter(api="messages", status="success")
    assert generations.exists()
    assert before - customer.balance() == sum(g.cost_nanos for g in generations) > 0


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def test_blocks_reach_an_anthropic_model_as_anthropic_sent_them(world):
    customer, client, _, fake = world
    client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=50,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        stop_sequences=["END"],
        extra_body={"top_k": 5},
        metadata={"user_id": "user-7"},
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
                    },
                    {"type": "text", "text": "Describe these.", "cache_control": {"type": "ephemeral"}},
                ],
            }
        ],
    )

    sent = fake.requests[-1].json
    assert sent["system"] == [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    content = sent["messages"][0]["content"]
    assert content[0] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    assert content[1] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
    assert content[2]["type"] == "document" and content[2]["source"]["data"] == "JVBERi0="
    assert content[3] == {"type": "text", "text": "Describe these.", "cache_control": {"type": "ephemeral"}}
    assert sent["stop_sequences"] == ["END"] and sent["top_k"] == 5
    # The end user's id reaches the provider only as its keyed hash (gateway.pipeline.attribution).
    assert sent["metadata"] == {"user_id": upstream_user(customer.user.pk, "user-7")}


def test_signed_thinking_goes_back_to_anthropic_with_its_signature(world):
    _, client, _, fake = world
    client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[
            {"role": "user", "content": "Think."},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Hmm.", "signature": "sig-9"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "Thought."},
                ],
            },
            {"role": "user", "content": "And now?"},
        ],
    )

    turn = fake.requests[-1].json["messages"][1]["content"]
    assert turn[0] == {"type": "thinking", "thinking": "Hmm.", "signature": "sig-9"}
    assert turn[1] == {"type": "redacted_thinking", "data": "opaque"}
    assert turn[2]["text"] == "Thought."


def test_an_overloaded_upstream_is_anthropics_overloaded_error(world):
    customer, client, _, fake = world
    fake.push(*["overloaded"] * 5)
    before = customer.balance()
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    assert customer.balance() == before and customer.held() == 0


def _allow_betas(betas: str) -> None:
    from catalog.models import Provider
    from catalog.snapshot import invalidate_local

    Provider.objects.filter(slug="anthropic").update(allowed_betas=betas)
    invalidate_local()


def test_anthropic_beta_headers_the_catalog_allows_reach_anthropic_and_no_others(world):
    _, client, _, fake = world
    _allow_betas("context-1m-2025-08-07, interleaved-thinking-2025-05-14")
    betas = ["context-1m-2025-08-07", "claude-code-20250219", "interleaved-thinking-2025-05-14"]

    client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=10,
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"anthropic-beta": ",".join(betas)},
    )
    sent = fake.requests[-1].headers
    assert sent["anthropic-beta"] == "context-1m-2025-08-07,interleaved-thinking-2025-05-14"

    client.messages.count_tokens(
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
    )
    assert fake.requests[-1].headers["anthropic-beta"] == "context-1m-2025-08-07"

    client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=10,
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"anthropic-beta": "claude-code-20250219"},
    )
    assert "anthropic-beta" not in fake.requests[-1].headers  # not in the catalog's list

    _allow_betas("")
    client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=10,
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
    )
    assert "anthropic-beta" not in fake.requests[-1].headers


def test_a_malformed_anthropic_beta_header_is_refused(world):
    _, client, _, _ = world
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(
            model="mock/echo",
            max_tokens=10,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"anthropic-beta": "not a beta;"},
        )
    assert "anthropic-beta" in refused.value.message


def test_more_than_four_stop_sequences_all_reach_an_anthropic_model(world, openai_upstream):
    _, client, _, fake = world
    stops = ["END", "STOP", "DONE", "FIN", "QUIT", "BYE"]
    client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=10,
        stop_sequences=stops,
        messages=[{"role": "user", "content": "x"}],
    )
    assert fake.requests[-1].json["stop_sequences"] == stops

    client.messages.create(
        model="openai/gpt-4o-mini",
        max_tokens=10,
        stop_sequences=stops,
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
    )
    sent = openai_upstream.requests[-1].json
    assert sent["stop"] == stops and "anthropic_beta" not in sent  # OpenAI itself says if it takes them
