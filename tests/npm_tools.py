"""Command-line tools from the npm registry for end-to-end tests (Claude Code, Codex CLI),
installed once into the git-ignored ``.tools/<folder>`` of the checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / ".tools"


def npm_tool(package: str, folder: str, command: str) -> Path:
    """The installed ``command`` of ``package`` (pinned: ``name@version``); the test skips,
    saying why, when the npm registry cannot provide it."""
    binary = TOOLS / folder / "node_modules" / ".bin" / command
    if not binary.exists():
        binary.parents[2].mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", package],
                cwd=binary.parents[2],
                check=True,
                capture_output=True,
                timeout=300,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"{package} could not be installed from the npm registry: {exc}")
    return binary
