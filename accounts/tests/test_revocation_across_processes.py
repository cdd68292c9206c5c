"""A key revoked in one process stops working in another within AUTH_CACHE_SECONDS.

Needs a database two processes can share (PostgreSQL; the SQLite test database lives
in memory), so it is skipped on SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.db import connection

from accounts import services
from accounts.tests.factories import UserFactory, make_key

ROOT = Path(__file__).resolve().parents[2]
CACHE_SECONDS = 2

# The other process: authenticate every 20 ms; report when the key starts working and
# the wall-clock time it was first refused.
_WORKER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from accounts import keyauth
    secret = sys.stdin.readline().strip()
    keyauth.authenticate(secret)
    print("ready", flush=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            keyauth.authenticate(secret)
        except keyauth.KeyRejected as exc:
            print(f"rejected {time.time():.6f} {exc}", flush=True)
            break
        time.sleep(0.02)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a database shared between processes")
def test_revocation_reaches_another_process_within_the_cache_lifetime(transactional_db):
    user = UserFactory(email="procs@example.com")
    key, secret = make_key(user)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "promptgrid.test_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "AUTH_CACHE_SECONDS": str(CACHE_SECONDS),
    }
    with subprocess.Popen(
        [sys.executable, "-c", _WORKER],
        cwd=ROOT,
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as worker:
        try:
            worker.stdin.write(secret + "\n")
            worker.stdin.flush()
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
            time.sleep(0.2)  # the worker is now serving from its cache
            services.api_key_revoke(key=key)
            revoked_at = time.time()
            line = worker.stdout.readline().split(" ", 2)
            assert line[0] == "rejected", worker.stderr.read()
        finally:
            worker.kill()
    delay = float(line[1]) - revoked_at
    assert "revoked" in line[2]
    print(f"revocation reached the other process after {delay:.3f} s")
    assert delay < CACHE_SECONDS + 0.5
