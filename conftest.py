"""Suite-wide fixtures: no network except loopback."""

from __future__ import annotations

import socket

import pytest

# tests.secret_scan fails the run if a log line contains an API key secret or a provider credential.
pytest_plugins = ["tests.fixtures", "tests.secret_scan"]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_LOOPBACK = ("127.", "::1", "localhost")


def _check(address: object) -> None:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if not host.startswith(_LOOPBACK):
            raise OSError(f"network access to {host} is blocked in tests (loopback only)")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _clear_caches():
    from django.core.cache import cache

    cache.clear()
    yield
