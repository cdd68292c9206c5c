"""``@openrouter/ai-sdk-provider`` (with the ``ai`` package) against a running PromptGrid: the
node script ``clients/openrouter_ai_sdk.mjs`` calls generateText and streamText on a mock model
and on an OpenAI model served by the fake upstream, and embedMany on the mock embedding model."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from billing.models import Generation

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = Path(__file__).resolve().parents[2] / ".tools" / "openrouter-ai-sdk"
SCRIPT = Path(__file__).resolve().parent / "clients" / "openrouter_ai_sdk.mjs"
PACKAGES = ("@openrouter/ai-sdk-provider@3.1.0", "ai@7.0.173", "zod@4.6.7")
# npm's words for a registry it cannot reach (DNS, refused, timed out, no route).
UNREACHABLE = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH")


def _installed() -> Path:
    """The packages from the npm registry, into the git-ignored .tools folder (once, pinned)."""
    marker = TOOLS / "node_modules" / "@openrouter" / "ai-sdk-provider" / "package.json"
    if not marker.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed")
        TOOLS.mkdir(parents=True, exist_ok=True)
        (TOOLS / "package.json").write_text('{"private": true}\n')
        try:
            done = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--save-exact", *PACKAGES],
                cwd=TOOLS,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("the npm registry did not answer within 300 s")
        if done.returncode != 0:
            if UNREACHABLE.search(done.stderr):
                pytest.skip(f"the npm registry is unreachable: {UNREACHABLE.search(done.stderr)[0]}")
            raise AssertionError(f"npm install failed:\n{done.stderr[-2000:]}")
    script = TOOLS / "run.mjs"
    shutil.copyfile(SCRIPT, script)  # beside node_modules, so its imports resolve
    return script


@pytest.fixture
def world(live_server_url, make_customer, make_mock_model, make_openai_model):
    make_mock_model(input_price="1", output_price="2")
    make_openai_model()
    return make_customer(), f"{live_server_url}/api/v1"


def _run(script: Path, url: str, secret: str, **variables: str) -> dict:
    env = {"PATH": os.environ.get("PATH", ""), "PROMPTGRID_BASE_URL": url, "PROMPTGRID_KEY": secret}
    env.update({f"PROMPTGRID_{name.upper()}": value for name, value in variables.items()})
    done = subprocess.run(
        ["node", str(script)], cwd=TOOLS, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model", ["mock/echo", "openai/gpt-4o-mini"])
def test_generate_text_and_stream_text_answer_and_are_billed(world, model):
    script = _installed()
    customer, url = world
    before = customer.balance()

    result = _run(script, url, customer.secret, model=model, prompt="one two three four five")

    generated, streamed = result["generated"], result["streamed"]
    assert generated["text"] == streamed["text"] == "one two three four five"
    assert generated["finishReason"] == streamed["finishReason"] == "stop"
    assert streamed["chunks"] > 1  # it really streamed
    assert generated["outputTokens"] == streamed["outputTokens"] == 6
    assert generated["modelId"] == model
    generations = Generation.objects.filter(status="success").order_by("created_at")
    assert [g.streamed for g in generations] == [False, True]
    assert generations[0].id == generated["responseId"]
    assert {g.app_title for g in generations} == {"AI SDK test"}
    assert before - customer.balance() == sum(g.cost_nanos for g in generations) > 0


def test_embed_many_gets_the_mock_models_vectors_billed(world, make_mock_model):
    from gateway.providers.mock import embedding_of

    script = _installed()
    customer, url = world
    make_mock_model(
        slug="mock/embed", upstream_model="embed", input_price="0.1", output_modalities=["embeddings"]
    )
    before = customer.balance()

    result = _run(script, url, customer.secret, embed_model="mock/embed", values='["hello world", "second"]')

    assert result["embeddings"] == [embedding_of("hello world"), embedding_of("second")]
    assert result["tokens"] == 3 + 2
    assert before - customer.balance() == 5 * 100
    assert Generation.objects.get().api == "embeddings"
