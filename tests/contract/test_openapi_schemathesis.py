"""The OpenAPI document is the contract: schemathesis (``st run``) generates requests for every
operation it lists, valid and invalid, against the real server with fake upstreams, and checks
each answer against the document: no 5xx, only documented status codes, content types and
headers, bodies that match their schemas, bad input refused and good input accepted.

Bounded: a few examples per operation (``SCHEMATHESIS_EXAMPLES``, default 8) and a time budget.
Operations added to the schema later are covered with no change here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accounts.models import ApiKey
from accounts.services import api_key_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ST = shutil.which("st", path=str(Path(os.sys.executable).parent)) or "st"
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "8")
# Operations that need a management key (key administration) get one; the rest a standard key.
MANAGEMENT = r"^/api/v1/keys"


@pytest.fixture
def api(live_server_url, make_customer, make_mock_model, make_openai_model):
    make_mock_model()
    make_mock_model(slug="mock/lorem", upstream_model="lorem")
    make_openai_model()
    customer = make_customer(credits_nanos=1_000_000_000_000)
    _key, management = api_key_create(user=customer.user, name="admin", kind=ApiKey.Kind.MANAGEMENT)
    return live_server_url, customer.secret, management


def _st(url: str, secret: str, tmp_path: Path, *filters: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            ST,
            "run",
            f"{url}/api/v1/openapi.json",
            "--url",
            url,
            "--header",
            f"Authorization: Bearer {secret}",
            "--checks",
            "all",
            "--exclude-checks",
            "ignored_auth,use_after_free,ensure_resource_availability",
            "--max-examples",
            EXAMPLES,
            "--max-time",
            "45",
            "--request-timeout",
            "15",
            "--seed",
            "19",
            "--workers",
            "1",
            "--no-color",
            "--report-dir",
            str(tmp_path),
            *filters,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={
            **os.environ,
            "NO_COLOR": "1",
            "SCHEMATHESIS_HOOKS": "tests.contract.schemathesis_hooks",
            "PYTHONPATH": str(ROOT),
        },
    )


def _summary(run: subprocess.CompletedProcess) -> str:
    lines = run.stdout.splitlines()
    return " ".join(line.strip() for line in lines if "generated" in line or "Operations:" in line)


def _report(run: subprocess.CompletedProcess) -> str:
    """The run's failures, each line cut short (generated bodies can be huge)."""
    return "\n".join(line[:400] for line in run.stdout.splitlines())[-30000:]


def test_every_operation_keeps_to_the_schema_with_a_standard_key(api, tmp_path):
    url, secret, _management = api
    run = _st(url, secret, tmp_path, "--exclude-path-regex", MANAGEMENT)
    print(_summary(run))  # shown with -s: operations, cases generated, failures
    assert run.returncode == 0, _report(run)


def test_key_administration_keeps_to_the_schema_with_a_management_key(api, tmp_path):
    url, _secret, management = api
    run = _st(url, management, tmp_path, "--include-path-regex", MANAGEMENT)
    print(_summary(run))  # shown with -s: operations, cases generated, failures
    assert run.returncode == 0, _report(run)
