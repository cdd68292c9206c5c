"""The benchmark's own parts: result parsing, /proc readings, the fake upstream, the forwarder."""

import json
import os
import subprocess
import sys

import pytest
from aiohttp import web

from bench import loadgen
from bench.fake_upstream import make_app
from bench.procs import cpu_seconds, descendants, rss_bytes
from bench.run import summarize_profile


def wrk_line(**overrides):
    data = {
        "requests": 1000,
        "duration_us": 2_000_000,
        "bytes": 1,
        "connect_errors": 0,
        "read_errors": 1,
        "write_errors": 0,
        "status_errors": 2,
        "timeouts": 3,
        "p50_us": 1500,
        "p90_us": 2500,
        "p99_us": 9000,
        "max_us": 12000,
        "mean_us": 1600.0,
    }
    data.update(overrides)
    return "Running 2s test\n  2 threads\nBENCH_JSON " + json.dumps(data) + "\n"


def test_wrk_result_line_gives_rate_percentiles_and_all_errors():
    result = loadgen.parse_wrk_output(wrk_line())

    assert result.rps == 500
    assert (result.p50_ms, result.p99_ms) == (1.5, 9.0)
    assert result.errors == 6 and result.status_errors == 2


def test_wrk_output_without_a_result_line_is_an_error():
    with pytest.raises(RuntimeError, match="no result line"):
        loadgen.parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused")


def test_rounds_add_up_requests_and_take_the_median_percentile():
    rounds = [
        loadgen.parse_wrk_output(wrk_line(requests=100, p99_us=1000)),
        loadgen.parse_wrk_output(wrk_line(requests=300, p99_us=5000)),
        loadgen.parse_wrk_output(wrk_line(requests=200, p99_us=3000)),
    ]

    merged = loadgen.merge_wrk(rounds)

    assert merged.requests == 600 and merged.seconds == 6.0 and merged.rps == 100
    assert merged.p99_ms == 3.0
    assert merged.errors == 18


def test_profile_summary_ranks_functions_by_own_time():
    collapsed = "main;a (gateway/api.py:1);b (psycopg/x.py:2) 30\nmain;a (gateway/api.py:1) 10\n"

    summary = summarize_profile(collapsed)

    own = summary.split("\n\n")[0]
    assert own.index("psycopg/x.py") < own.index("gateway/api.py")
    assert "| 75.0 | `b (psycopg/x.py:2)` |" in summary
    assert "| 100.0 | `a (gateway/api.py:1)` |" in summary


def test_cpu_and_memory_of_processes_come_from_proc():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert child.pid in descendants(os.getpid())
        sum(range(3_000_000))  # spend some CPU of our own
        assert cpu_seconds(os.getpid()) > 0
        assert rss_bytes(os.getpid()) > 10 * 1024 * 1024
    finally:
        child.kill()
        child.wait()
    assert cpu_seconds(child.pid) == 0.0 and rss_bytes(child.pid) == 0  # gone


@pytest.fixture
async def fake_url():
    runner = web.AppRunner(make_app(chunks=6), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


async def test_fake_upstream_speaks_openai_to_the_official_sdk(fake_url):
    import openai

    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=fake_url, max_retries=0)
    try:
        answer = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content.startswith("The quick brown fox")
        assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens

        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    finally:
        await client.close()
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4


@pytest.mark.parametrize("view_name", ["forward_httpx", "forward_aiohttp"])
async def test_forwarder_relays_answers_and_streams(fake_url, settings, view_name):
    from django.test import AsyncRequestFactory

    from bench.forwarder import views

    settings.BENCH_UPSTREAM = fake_url
    view = getattr(views, view_name)
    factory = AsyncRequestFactory()

    plain = await view(factory.post("/", data=b'{"model": "x"}', content_type="application/json"))
    assert plain.status_code == 200 and json.loads(plain.content)["object"] == "chat.completion"

    streamed = await view(
        factory.post("/", data=b'{"model": "x", "stream": true}', content_type="application/json")
    )
    body = b"".join([chunk async for chunk in streamed.streaming_content])
    assert streamed["Content-Type"].startswith("text/event-stream")
    assert body.count(b"data: ") == 7 and body.endswith(b"data: [DONE]\n\n")

    for client in (*views._httpx_clients.values(), *views._aiohttp_sessions.values()):
        await (client.aclose() if hasattr(client, "aclose") else client.close())
    views._httpx_clients.clear()
    views._aiohttp_sessions.clear()


def test_the_surface_measurement_times_every_api_surface():
    from bench.surfaces import measure

    results = measure(20)

    assert set(results) == {"chat", "messages", "responses"}
    assert all(res["plain_us"] > 0 and res["stream_us"] > res["plain_us"] for res in results.values())
