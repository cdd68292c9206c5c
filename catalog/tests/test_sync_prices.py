import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Endpoint

GOOD = {
    "sample_spec": {"max_tokens": "LEGACY: documentation, not a model", "input_cost_per_token": 0.0},
    "gpt-4o-mini": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 2e-07,  # was 0.15/M
        "output_cost_per_token": 6e-07,  # unchanged
        "cache_read_input_token_cost": 1e-07,
        "max_input_tokens": 200000,  # was 128000
        "max_output_tokens": 16384,
    },
    "gemini/gemini-2.5-flash": {
        "litellm_provider": "gemini",
        "mode": "chat",
        "input_cost_per_token": 3.5e-07,
        "output_cost_per_token": 2.5e-06,
    },
    # Same upstream name, other provider: must not touch the OpenAI endpoint.
    "claude-sonnet-4-5": {"litellm_provider": "openai", "input_cost_per_token": 1.0},
    "openai/container": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": None},
}


def _prices():
    return sorted(
        Endpoint.objects.values_list(
            "model__slug",
            "input_price",
            "output_price",
            "cache_read_price",
            "context_length",
            "max_output_tokens",
        )
    )


@pytest.fixture
def seeded(db):
    call_command("seed_catalog", stdout=StringIO())


def _write(tmp_path, document, name="prices.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def _sync(*args):
    out = StringIO()
    call_command("sync_prices", *args, stdout=out)
    return out.getvalue()


def test_good_file_updates_matching_endpoints_and_prints_each_change(seeded, tmp_path):
    output = _sync(_write(tmp_path, GOOD))

    mini = Endpoint.objects.get(model__slug="openai/gpt-4o-mini")
    assert (mini.input_price, mini.output_price, mini.cache_read_price) == (
        Decimal("0.2"),
        Decimal("0.6"),
        Decimal("0.1"),
    )
    assert mini.context_length == 200000
    flash = Endpoint.objects.get(model__slug="google/gemini-2.5-flash")
    assert flash.input_price == Decimal("0.35")
    sonnet = Endpoint.objects.get(model__slug="anthropic/claude-sonnet-4-5")
    assert sonnet.input_price == Decimal("3")

    assert "openai/gpt-4o-mini via openai (gpt-4o-mini)" in output
    assert "input_price 0.15 → 0.2" in output
    assert "context_length 128000 → 200000" in output
    assert "google/gemini-2.5-flash via google (gemini-2.5-flash): input_price 0.3 → 0.35" in output
    assert "output_price" not in output.split("gpt-4o-mini")[1].splitlines()[0]  # unchanged price not listed
    assert "2 endpoint(s) updated" in output


def test_running_the_same_file_again_prints_no_changes(seeded, tmp_path):
    path = _write(tmp_path, GOOD)
    _sync(path)
    assert _sync(path).strip() == "no changes"


def test_dry_run_prints_changes_but_saves_nothing(seeded, tmp_path):
    before = _prices()
    output = _sync(_write(tmp_path, GOOD), "--dry-run")
    assert "input_price 0.15 → 0.2" in output
    assert "nothing saved" in output
    assert _prices() == before


@pytest.mark.parametrize(
    "document, complaint",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        ({"gpt-4o-mini": "cheap"}, "expected an object"),
        (
            {"gpt-4o-mini": {"litellm_provider": "openai", "input_cost_per_token": "0.0000002"}},
            "expected a number",
        ),
        ({"gpt-4o-mini": {"litellm_provider": "openai", "input_cost_per_token": True}}, "expected a number"),
        (
            {"gpt-4o-mini": {"litellm_provider": "openai", "output_cost_per_token": -1e-06}},
            "cannot be negative",
        ),
        ({"gpt-4o-mini": {"litellm_provider": "openai", "max_input_tokens": "lots"}}, "whole number"),
        ({"gpt-4o-mini": {"litellm_provider": 7}}, "litellm_provider"),
    ],
)
def test_malformed_file_changes_nothing_and_fails_clearly(seeded, tmp_path, document, complaint):
    # A good entry first: a malformed one later in the file must still block it.
    if isinstance(document, dict):
        document = {"gemini/gemini-2.5-flash": GOOD["gemini/gemini-2.5-flash"], **document}
    before = _prices()
    with pytest.raises(CommandError) as excinfo:
        _sync(_write(tmp_path, document))
    assert "nothing changed" in str(excinfo.value)
    assert complaint in str(excinfo.value)
    assert _prices() == before


def test_missing_file_fails_clearly(seeded, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        _sync(str(tmp_path / "nope.json"))


def test_malformed_file_exits_non_zero_from_the_command_line(seeded, tmp_path):
    from django.core.management import ManagementUtility

    path = _write(tmp_path, {"gpt-4o-mini": {"litellm_provider": "openai", "input_cost_per_token": -1}})
    with pytest.raises(SystemExit) as excinfo:
        ManagementUtility(["manage.py", "sync_prices", path]).execute()
    assert excinfo.value.code != 0


class _PriceServer:
    def __init__(self, body: bytes, status: int = 200):
        body_, status_ = body, status

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(status_)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body_)))
                self.end_headers()
                self.wfile.write(body_)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/model_prices.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_url_served_on_loopback_is_fetched_and_applied(seeded):
    with _PriceServer(json.dumps(GOOD).encode()) as server:
        output = _sync(server.url)
    assert "input_price 0.15 → 0.2" in output
    assert Endpoint.objects.get(model__slug="openai/gpt-4o-mini").input_price == Decimal("0.2")


def test_url_error_status_changes_nothing(seeded):
    before = _prices()
    with _PriceServer(b"oops", status=500) as server, pytest.raises(CommandError, match="cannot fetch"):
        _sync(server.url)
    assert _prices() == before


def test_oversized_download_is_refused(seeded, monkeypatch):
    from catalog import pricelist

    monkeypatch.setattr(pricelist, "MAX_BYTES", 100)
    with _PriceServer(json.dumps(GOOD).encode()) as server, pytest.raises(CommandError, match="larger than"):
        _sync(server.url)
