"""Fails the test run when a log line written during it contains a secret.

Every log record of the whole suite is formatted as production would write it
(request id, redaction, JSON) and kept. Every API key secret handed out by
``accounts.secrets.new_api_key_secret`` and every provider credential a test
sets (Provider rows, ``PROVIDER_ENV``/Stripe settings, adapter Targets, the
environment) is remembered. At the end of the session each line is searched for
each secret, and for anything still shaped like a PromptGrid key; one hit fails
the run. Under pytest-xdist each worker scans its own lines and reports back.

Registered from the root conftest (``pytest_plugins``).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

# Shorter values ("k", "test") would match innocent text; real-looking test keys are longer.
MIN_SECRET_LENGTH = 10
_KEY_SHAPE = re.compile(r"pg-v1-[A-Za-z0-9_\-]{20,}")
_SECRET_SETTINGS = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "METRICS_TOKEN")


@dataclass
class SecretScan:
    lines: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    leaks: list[str] = field(default_factory=list)
    worker_lines: int = 0  # lines scanned by pytest-xdist workers
    handler: logging.Handler | None = None

    def remember(self, value: Any) -> None:
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            self.secrets.add(value)


SCAN = SecretScan()


def find_leaks(lines: list[str], secrets: set[str]) -> list[str]:
    """The lines that contain one of ``secrets`` or an unredacted PromptGrid key."""
    leaks = []
    for line in lines:
        if _KEY_SHAPE.search(line) or any(secret in line for secret in secrets):
            leaks.append(line)
    return leaks


class _Capture(logging.Handler):
    def __init__(self) -> None:
        from promptgrid.observability.logs import JsonFormatter, RedactSecretsFilter, RequestIdFilter

        super().__init__(level=logging.NOTSET)
        self.addFilter(RequestIdFilter())
        self.addFilter(RedactSecretsFilter())
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            SCAN.lines.append(self.format(record))
        except Exception:
            self.handleError(record)


def _attach() -> None:
    root = logging.getLogger()
    if SCAN.handler is None:
        SCAN.handler = _Capture()
    if SCAN.handler not in root.handlers:
        root.addHandler(SCAN.handler)


def _remember_provider_settings(value: Any) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _remember_provider_settings(item)
    else:
        SCAN.remember(value)


def _hook_secret_sources() -> None:
    import sys

    from django.core.signals import setting_changed
    from django.db.models.signals import post_save

    import accounts.secrets

    original = accounts.secrets.new_api_key_secret

    def new_api_key_secret() -> str:
        secret = original()
        # The random part alone is as much of a leak as the whole key, and contains no prefix to redact.
        SCAN.remember(secret.removeprefix(accounts.secrets.KEY_PREFIX))
        return secret

    # Rebind it wherever it was already imported by name (accounts.services, …).
    for module in list(sys.modules.values()):
        if getattr(module, "new_api_key_secret", None) is original:
            module.new_api_key_secret = new_api_key_secret

    def provider_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
        SCAN.remember(getattr(instance, "api_key", ""))

    post_save.connect(provider_saved, sender="catalog.Provider", weak=False)

    def setting_set(setting: str, value: Any, **kwargs: Any) -> None:
        if setting == "PROVIDER_ENV" or setting in _SECRET_SETTINGS:
            _remember_provider_settings(value)

    setting_changed.connect(setting_set, weak=False)

    from catalog.targets import Target

    target_init = Target.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        target_init(self, *args, **kwargs)
        SCAN.remember(self.api_key)

    Target.__init__ = init  # type: ignore[method-assign]


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # pytest-django has set Django up by now (trylast), so models can be imported.
    _hook_secret_sources()
    _attach()


@pytest.fixture(autouse=True)
def _keep_log_capture_attached():
    """Re-attach if a test reconfigured logging and dropped the root handlers."""
    _attach()
    yield


def _final_secrets() -> set[str]:
    from django.conf import settings

    secrets = set(SCAN.secrets)
    for name in _SECRET_SETTINGS:
        value = getattr(settings, name, "")
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            secrets.add(value)
    for provider in getattr(settings, "PROVIDER_ENV", {}).values():
        value = provider.get("api_key", "")
        if len(value) >= MIN_SECRET_LENGTH:
            secrets.add(value)
    for name, value in os.environ.items():
        if name.endswith(("_API_KEY", "_SECRET_KEY", "_WEBHOOK_SECRET")) and len(value) >= MIN_SECRET_LENGTH:
            secrets.add(value)
    return secrets


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    secrets = _final_secrets()
    SCAN.leaks.extend(find_leaks(SCAN.lines, secrets))
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["secret_scan"] = {
            "lines": len(SCAN.lines),
            "secrets": len(secrets),
            "leaks": SCAN.leaks[:20],
        }
    if SCAN.leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    report = getattr(node, "workeroutput", {}).get("secret_scan")
    if report:
        SCAN.worker_lines += report["lines"]
        SCAN.leaks.extend(report["leaks"])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if SCAN.leaks:
        terminalreporter.section("secrets in logs", red=True)
        for line in SCAN.leaks[:20]:
            terminalreporter.write_line(line[:500])
        terminalreporter.write_line(f"{len(SCAN.leaks)} log line(s) contain a secret: the run fails.")
    else:
        checked = len(SCAN.lines) + SCAN.worker_lines
        terminalreporter.write_line(f"secret scan: {checked} log lines checked, none contains a secret")
