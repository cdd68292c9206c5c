import io
import json
import logging

import pytest
from django.http import HttpResponse
from django.test import AsyncClient
from django.urls import path

from gateway.pipeline import telemetry
from promptgrid.observability.logs import JsonFormatter, RedactSecretsFilter, redact
from promptgrid.observability.request_id import RequestIdMiddleware
from promptgrid.observability.request_id import _request_id as request_id_var

demo_log = logging.getLogger("promptgrid.tests.demo")


def _logging_view(request):
    demo_log.warning("inside the view")
    return HttpResponse("ok")


async def _async_logging_view(request):
    demo_log.warning("inside the async view")
    return HttpResponse("ok")


async def _refusing_view(request):
    return HttpResponse("no", status=403)


urlpatterns = [
    path("log-sync", _logging_view),
    path("log-async", _async_logging_view),
    path("refuse", _refusing_view),
]


@pytest.fixture(autouse=True)
def _outside_any_request():
    """A streamed response in an earlier test (same thread) may have left its id set."""
    token = request_id_var.set("")
    yield
    request_id_var.reset(token)


@pytest.fixture
def log_lines():
    """What the configured root handler writes, as parsed JSON objects."""
    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    lines: list[dict] = []

    def read() -> list[dict]:
        lines[:] = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
        return lines

    yield read
    handler.setStream(previous)


def test_a_chat_request_writes_one_json_line_with_what_operators_need(log_lines):
    request_id_var.set("req-abc")  # as the middleware does for the request being served

    telemetry.request_done(
        request_id="req-abc",
        generation_id="gen-123",
        status=200,
        model="openai/gpt-4o-mini",
        provider="openai",
        key_id=42,
        streamed=True,
        prompt_tokens=11,
        completion_tokens=7,
        cost_nanos=2_500,
        latency_ms=812.345,
        ttft_ms=120.0,
    )

    (line,) = [entry for entry in log_lines() if entry.get("event") == "chat_request"]
    assert line["request_id"] == "req-abc"
    assert line["generation_id"] == "gen-123"
    assert line["key_id"] == 42
    assert line["model"] == "openai/gpt-4o-mini"
    assert line["provider"] == "openai"
    assert line["status"] == 200
    assert line["streamed"] is True
    assert (line["prompt_tokens"], line["completion_tokens"]) == (11, 7)
    assert line["cost_nanos"] == 2_500
    assert line["cost_usd"] == pytest.approx(0.0000025)
    assert line["latency_ms"] == 812.3
    assert line["ttft_ms"] == 120.0
    assert line["level"] == "INFO"
    assert line["ts"].endswith("+00:00")


def test_a_rejected_request_logs_its_request_id_without_a_generation(log_lines):
    request_id_var.set("req-rejected")

    telemetry.request_done(request_id="", status=401, model="", provider="", key_id=None, streamed=False)

    (line,) = [entry for entry in log_lines() if entry.get("event") == "chat_request"]
    assert (line["request_id"], line["generation_id"], line["status"]) == ("req-rejected", None, 401)


@pytest.mark.urls(__name__)
def test_every_response_carries_a_request_id_and_the_logs_of_the_request_share_it(client, log_lines):
    response = client.get("/log-sync")

    request_id = response["x-request-id"]
    assert request_id.startswith("req-")
    (view_line,) = [entry for entry in log_lines() if entry["message"] == "inside the view"]
    assert view_line["request_id"] == request_id
    (access,) = [entry for entry in log_lines() if entry.get("event") == "http_request"]
    assert access["request_id"] == request_id
    assert (access["method"], access["path"], access["status"]) == ("GET", "/log-sync", 200)


@pytest.mark.urls(__name__)
async def test_async_requests_get_their_own_request_ids(log_lines):
    client = AsyncClient()

    first = await client.get("/log-async")
    second = await client.get("/log-async")

    assert first["x-request-id"] != second["x-request-id"]
    lines = [entry for entry in log_lines() if entry["message"] == "inside the async view"]
    assert [entry["request_id"] for entry in lines] == [first["x-request-id"], second["x-request-id"]]


@pytest.mark.urls(__name__)
async def test_djangos_own_line_about_a_refused_request_carries_its_id(log_lines):
    response = await AsyncClient().get("/refuse")

    (line,) = [entry for entry in log_lines() if entry["logger"] == "django.request"]
    assert line["level"] == "WARNING" and line["status_code"] == 403
    assert line["request_id"] == response["x-request-id"]


@pytest.mark.urls(__name__)
def test_a_sane_incoming_request_id_is_kept_and_a_strange_one_replaced(client):
    kept = client.get("/log-sync", headers={"x-request-id": "lb-7f3a.42:9"})
    replaced = client.get("/log-sync", headers={"x-request-id": 'evil"\n{"level":"ERROR"}'})
    too_long = client.get("/log-sync", headers={"x-request-id": "a" * 300})

    assert kept["x-request-id"] == "lb-7f3a.42:9"
    assert replaced["x-request-id"].startswith("req-")
    assert too_long["x-request-id"].startswith("req-")


def test_the_middleware_is_async_capable_so_the_api_path_stays_in_the_event_loop():
    async def get_response(request):
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(get_response)

    assert RequestIdMiddleware.sync_capable and RequestIdMiddleware.async_capable
    from asgiref.sync import iscoroutinefunction

    assert iscoroutinefunction(middleware)


def test_health_probes_do_not_write_access_lines(client, log_lines):
    client.get("/healthz")
    client.get("/metrics")

    assert [entry for entry in log_lines() if entry.get("event") == "http_request"] == []


@pytest.mark.parametrize(
    "leaky",
    [
        "pg-v1-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefg",
        "sk-proj-abcdefghijklmnop1234567890",
        "sk-ant-api03-abcdefghijklmnopqrstuvwx",
        "sk_live_51Habcdefghijklmnop",
        "whsec_abcdefghijklmnop",
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz12345",
    ],
)
def test_anything_shaped_like_a_key_is_masked(leaky):
    assert leaky not in redact(f"calling with {leaky}, then failed")
    assert "[redacted]" in redact(f"calling with {leaky}, then failed")


def test_bearer_tokens_and_api_key_assignments_are_masked():
    text = redact('Authorization: Bearer opaque-token-123 api_key="plain-secret" x-api-key: other-secret')

    assert "opaque-token-123" not in text
    assert "plain-secret" not in text
    assert "other-secret" not in text
    assert "Authorization: Bearer [redacted]" in text


def test_the_redaction_filter_covers_arguments_extras_and_tracebacks(log_lines):
    secret = "pg-v1-ZZZZsecretZZZZsecretZZZZsecretZZZZsecret01"
    try:
        raise ValueError(f"bad key {secret}")
    except ValueError:
        demo_log.exception("failed for %s", secret, extra={"header": f"Bearer {secret}"})

    written = json.dumps(log_lines())
    assert secret not in written
    (line,) = [entry for entry in log_lines() if entry["message"].startswith("failed for")]
    assert line["message"] == "failed for [redacted]"
    assert line["header"] == "Bearer [redacted]"
    assert "ValueError: bad key [redacted]" in line["exception"]


def test_the_redaction_filter_keeps_records_it_cannot_format():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("not a number",), None)

    assert RedactSecretsFilter().filter(record) is True
    assert "not a number" in record.getMessage()


# The suite-wide secret scan (tests/secret_scan.py): it must see what it is meant to see.


def test_the_secret_scan_finds_a_secret_or_a_bare_key_in_a_log_line():
    from tests.secret_scan import find_leaks

    lines = ['{"message": "ok"}', '{"message": "upstream said: bad key prov-secret-0123"}']

    assert find_leaks(lines, {"prov-secret-0123"}) == [lines[1]]
    assert find_leaks(['{"message": "pg-v1-abcdefghijklmnopqrstuvwxyz"}'], set()) != []
    assert find_leaks(lines, {"other-secret-value"}) == []


@pytest.mark.django_db
def test_the_secret_scan_remembers_every_api_key_secret_and_provider_key(django_user_model):
    from accounts.services import api_key_create
    from catalog.models import Provider
    from tests.secret_scan import SCAN

    user = django_user_model.objects.create_user("scan", "scan@example.com", "pw")
    _, secret = api_key_create(user=user, name="scanned")
    Provider.objects.create(
        slug="scanned", name="Scanned", protocol="openai", api_key="sk-scanned-provider-key"
    )

    assert secret.removeprefix("pg-v1-") in SCAN.secrets
    assert "sk-scanned-provider-key" in SCAN.secrets


def test_the_secret_scan_sees_every_log_record():
    from tests.secret_scan import SCAN

    demo_log.warning("a line for the scan %s", "marker-7c1d")

    assert "marker-7c1d" in SCAN.lines[-1]


# The chat_request line is built once, already redacted (StructuredRecord): it must read exactly
# as a line logged through extra= and the filters would, and never carry a key.

KEY_AS_MODEL = "pg-v1-TypedIntoTheModelFieldByMistake0123456789"


def test_the_request_line_has_every_field_in_the_usual_order(log_lines):
    request_id_var.set("req-order")

    telemetry.request_done(
        request_id="req-order", generation_id="gen-9", status=502, model="openai/gpt-4o", provider="openai",
        key_id=3, streamed=False, latency_ms=12, error_kind="upstream_timeout",
    )  # fmt: skip

    (line,) = [entry for entry in log_lines() if entry.get("event") == "chat_request"]
    assert list(line) == [
        "ts", "level", "logger", "message", "request_id", "event", "generation_id", "key_id", "model",
        "provider", "status", "streamed", "prompt_tokens", "completion_tokens", "cost_nanos", "cost_usd",
        "latency_ms", "ttft_ms", "error_kind",
    ]  # fmt: skip
    assert line["message"] == "chat completion 502 openai/gpt-4o"
    assert (line["logger"], line["ttft_ms"], line["error_kind"]) == (
        "promptgrid.request",
        None,
        "upstream_timeout",
    )
    assert (line["cost_nanos"], line["cost_usd"], line["latency_ms"]) == (0, 0.0, 12)


def test_a_key_typed_as_the_model_or_sent_as_the_request_id_never_reaches_the_log(log_lines):
    request_id_var.set("sk-proj-abcdefghijklmnop1234567890")  # a "sane" x-request-id, kept as sent

    telemetry.request_done(
        request_id="", status=404, model=KEY_AS_MODEL, provider="", key_id=1, streamed=False
    )

    written = json.dumps(log_lines())
    assert KEY_AS_MODEL not in written and "abcdefghijklmnop1234567890" not in written
    (line,) = [entry for entry in log_lines() if entry.get("event") == "chat_request"]
    assert line["model"] == "[redacted]" and line["message"] == "chat completion 404 [redacted]"
    assert line["request_id"] == "[redacted]"


@pytest.mark.django_db
def test_a_key_typed_as_the_model_through_the_api_is_masked_in_the_request_line(log_lines, make_customer):
    from asgiref.sync import async_to_sync

    from gateway.tests.conftest import _call

    call_api = async_to_sync(_call)
    customer = make_customer()

    result = call_api(
        {"model": KEY_AS_MODEL, "messages": [{"role": "user", "content": "hi"}]}, customer.secret
    )

    assert result.status >= 400
    (line,) = [entry for entry in log_lines() if entry.get("event") == "chat_request"]
    assert line["model"] == "[redacted]"
    assert KEY_AS_MODEL not in json.dumps(log_lines())


def test_the_request_line_follows_the_configured_level(log_lines):
    logger = logging.getLogger("promptgrid.request")
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        telemetry.request_done(
            request_id="req-quiet", status=200, model="m", provider="p", key_id=1, streamed=False
        )
    finally:
        logger.setLevel(previous)

    assert [entry for entry in log_lines() if entry.get("event") == "chat_request"] == []


def test_other_handlers_see_the_request_fields_as_record_attributes():
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(model)s %(status)s %(message)s"))
    logging.getLogger("promptgrid.request").addHandler(handler)
    try:
        telemetry.request_done(
            request_id="req-x", status=200, model="a/b", provider="p", key_id=1, streamed=True
        )
    finally:
        logging.getLogger("promptgrid.request").removeHandler(handler)

    (record,) = seen
    assert handler.format(record) == "INFO promptgrid.request a/b 200 chat completion 200 a/b"
    assert record.funcName == "request_done" and record.filename == "telemetry.py"
    assert "fields" not in vars(record)  # generic formatters that list the extras see each field once


@pytest.mark.parametrize(
    "created", [0.0, 1767225600.0, 1767225600.0005, 1767225600.9994999, 1767225600.9999996]
)
def test_timestamps_match_datetimes_iso_format(created):
    from datetime import UTC, datetime

    from promptgrid.observability.logs import _Timestamps

    expected = datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
    assert _Timestamps().format(created) == expected
