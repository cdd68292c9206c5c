import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from django.test import override_settings

from gateway.pipeline import telemetry
from promptgrid.tests.metrics_helpers import sample_value, scrape

ROOT = Path(__file__).resolve().parents[2]


def _model() -> str:
    # A fresh label set per test: the default registry lives as long as the process.
    return f"test/{uuid.uuid4().hex[:8]}"


def test_request_counts_by_model_provider_and_status_are_scraped(client):
    model = _model()
    for status in (200, 200, 429):
        telemetry.request_done(
            request_id="req-1", status=status, model=model, provider="mock", key_id=1, streamed=False
        )

    text = scrape(client)

    assert sample_value(text, "promptgrid_requests_total", model=model, provider="mock", status="200") == 2
    assert sample_value(text, "promptgrid_requests_total", model=model, provider="mock", status="429") == 1


def test_tokens_cost_and_latency_are_recorded(client):
    model = _model()
    telemetry.request_done(
        request_id="req-2",
        status=200,
        model=model,
        provider="openai",
        key_id=7,
        streamed=True,
        prompt_tokens=120,
        completion_tokens=30,
        cost_nanos=1_500_000,  # $0.0015
        latency_ms=1800.0,
        ttft_ms=240.0,
    )

    text = scrape(client)

    assert sample_value(text, "promptgrid_tokens_total", model=model, direction="prompt") == 120
    assert sample_value(text, "promptgrid_tokens_total", model=model, direction="completion") == 30
    assert sample_value(text, "promptgrid_cost_usd_total", model=model) == pytest.approx(0.0015)
    assert sample_value(text, "promptgrid_request_latency_seconds_count", model=model) == 1
    assert sample_value(text, "promptgrid_request_latency_seconds_bucket", model=model, le="1.0") == 0
    assert sample_value(text, "promptgrid_request_latency_seconds_bucket", model=model, le="2.0") == 1
    assert sample_value(text, "promptgrid_time_to_first_token_seconds_bucket", model=model, le="0.25") == 1


def test_a_model_name_that_never_reached_a_provider_is_not_a_label(client):
    typo = f"no-such-model-{uuid.uuid4().hex}"
    before = sample_value(scrape(client), "promptgrid_requests_total", model="(none)", status="404")

    telemetry.request_done(request_id="r", status=404, model=typo, provider="", key_id=1, streamed=False)

    text = scrape(client)
    assert typo not in text
    assert sample_value(text, "promptgrid_requests_total", model="(none)", status="404") == before + 1


def test_upstream_errors_are_counted_by_provider_and_class(client):
    provider = f"prov-{uuid.uuid4().hex[:6]}"
    telemetry.upstream_error(provider=provider, kind="rate_limit")
    telemetry.upstream_error(provider=provider, kind="rate_limit")
    telemetry.upstream_error(provider=provider, kind="timeout")

    text = scrape(client)

    assert sample_value(text, "promptgrid_upstream_errors_total", provider=provider, kind="rate_limit") == 2
    assert sample_value(text, "promptgrid_upstream_errors_total", provider=provider, kind="timeout") == 1


def test_open_streams_and_holds_in_flight_go_up_and_down(client):
    streams = sample_value(scrape(client), "promptgrid_open_streams")
    holds = sample_value(scrape(client), "promptgrid_holds_in_flight")

    telemetry.stream_opened()
    telemetry.stream_opened()
    telemetry.hold_opened()
    during = scrape(client)
    telemetry.stream_closed()
    telemetry.stream_closed()
    telemetry.hold_closed()
    after = scrape(client)

    assert sample_value(during, "promptgrid_open_streams") == streams + 2
    assert sample_value(during, "promptgrid_holds_in_flight") == holds + 1
    assert sample_value(after, "promptgrid_open_streams") == streams
    assert sample_value(after, "promptgrid_holds_in_flight") == holds


@override_settings(METRICS_ENABLED=False)
def test_metrics_are_not_found_when_disabled(client):
    assert client.get("/metrics").status_code == 404


@override_settings(METRICS_TOKEN="scrape-token-0123456789")
def test_metrics_need_the_bearer_token_when_one_is_set(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert (
        client.get("/metrics", headers={"authorization": "Basic scrape-token-0123456789"}).status_code == 401
    )

    response = client.get("/metrics", headers={"authorization": "Bearer scrape-token-0123456789"})

    assert response.status_code == 200
    assert response["content-type"].startswith("text/plain")
    assert b"promptgrid_requests" in response.content


_WORKER = textwrap.dedent(
    """
    import os, sys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.test_settings")
    import django
    django.setup()
    from gateway.pipeline import telemetry
    for _ in range(int(sys.argv[1])):
        telemetry.request_done(request_id="r", status=200, model="mock/echo", provider="mock",
                               key_id=1, streamed=False, prompt_tokens=10, completion_tokens=5,
                               cost_nanos=1000, latency_ms=50.0)
    telemetry.stream_opened()
    telemetry.stream_opened()
    if sys.argv[2] == "stay":
        sys.stdout.write("ready\\n"); sys.stdout.flush()
        sys.stdin.read()  # keep this worker (and its open streams) alive until told
    """
)
_SCRAPE = textwrap.dedent(
    """
    import os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.test_settings")
    import django
    django.setup()
    from promptgrid.observability import metrics
    print(metrics.render().decode())
    """
)


def _run(script: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_several_worker_processes_add_up_in_one_scrape(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    alive = subprocess.Popen(
        [sys.executable, "-c", _WORKER, "4", "stay"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert alive.stdout.readline().strip() == "ready"
        _run(_WORKER, "3", "exit", env=env)  # a worker that served and then died

        text = _run(_SCRAPE, env=env)
    finally:
        alive.communicate("", timeout=60)

    assert sample_value(text, "promptgrid_requests_total", model="mock/echo", status="200") == 7
    assert sample_value(text, "promptgrid_tokens_total", model="mock/echo", direction="prompt") == 70
    assert sample_value(text, "promptgrid_request_latency_seconds_count", model="mock/echo") == 7
    # Counters keep the dead worker's requests; the open-streams gauge only counts the living.
    assert sample_value(text, "promptgrid_open_streams") == 2

    after_all_exited = _run(_SCRAPE, env=env)
    assert sample_value(after_all_exited, "promptgrid_open_streams") == 0
    assert sample_value(after_all_exited, "promptgrid_requests_total", model="mock/echo", status="200") == 7


@override_settings(METRICS_TOKEN="", METRICS_PUBLIC=False)
def test_metrics_without_a_token_are_refused_unless_public(client):
    response = client.get("/metrics")
    assert response.status_code == 401 and "METRICS_TOKEN" in response.content.decode()
