"""OpenAI's Codex CLI (``codex exec``), from the npm registry, completes a prompt through
PromptGrid's Responses API as a custom model provider, billed."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from billing.models import Generation
from gateway.tests.responses.conftest import MODELS
from tests.npm_tools import npm_tool

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]


def codex_config(url: str, model: str) -> str:
    """The config.toml that points Codex at PromptGrid (the README shows the same lines)."""
    return f"""model = "{model}"
model_provider = "promptgrid"

[model_providers.promptgrid]
name = "PromptGrid"
base_url = "{url}/api/v1"
env_key = "PROMPTGRID_API_KEY"
wire_api = "responses"
"""


@pytest.mark.parametrize("model", MODELS)
def test_codex_exec_completes_a_prompt_through_promptgrid_billed(world, tmp_path, model):
    codex = npm_tool("@openai/codex@0.171.0", "codex", "codex")
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(codex_config(world.url, model))
    before = world.customer.balance()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "PROMPTGRID_API_KEY": world.customer.secret,
        "RUST_LOG": "error",
    }

    done = subprocess.run(
        [str(codex), "exec", "--skip-git-repo-check", "--json", "Reply with the word pineapple"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 0, done.stderr + done.stdout
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    said = json.dumps([e for e in events if "item" in e])
    assert "pineapple" in said, done.stdout
    generations = Generation.objects.filter(api="responses", status="success", model_slug=model)
    assert generations.exists()
    assert before - world.customer.balance() == sum(g.cost_nanos for g in generations) > 0


def test_codex_runs_the_shell_command_the_model_calls_for_and_answers_with_its_output(world, tmp_path):
    codex = npm_tool("@openai/codex@0.171.0", "codex", "codex")
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(codex_config(world.url, "mock/echo"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "PROMPTGRID_API_KEY": world.customer.secret,
        "RUST_LOG": "error",
    }
    # The mock calls the tool the prompt names, with the prompt's JSON as its arguments.
    prompt = 'call exec_command {"cmd": "echo kiwi-from-the-shell"}'

    done = subprocess.run(
        [str(codex), "exec", "--skip-git-repo-check", "--json", prompt],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 0, done.stderr + done.stdout
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    ran = [e["item"] for e in events if e.get("item", {}).get("type") == "command_execution"]
    assert ran and "kiwi-from-the-shell" in json.dumps(ran)
    said = [e["item"] for e in events if e.get("item", {}).get("type") == "agent_message"]
    assert said and "exec_command returned" in said[-1]["text"] and "kiwi-from-the-shell" in said[-1]["text"]
    generations = Generation.objects.filter(api="responses", status="success")
    assert generations.count() == 2  # the call, then the answer from its output
    assert world.customer.held() == 0
