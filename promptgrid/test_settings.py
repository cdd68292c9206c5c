"""Settings for the test suite: the real settings with test-friendly environment defaults."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-checks-0123456789")
os.environ.setdefault("AUTH_CACHE_SECONDS", "0")
os.environ.setdefault("CATALOG_CACHE_SECONDS", "0")
# Threads (channels, live servers) close their connections after each use, so the test DB can be dropped.
os.environ.setdefault("DB_CONN_MAX_AGE", "0")
# A pooled connection outlives the test's transaction; the suite uses plain connections.
os.environ.setdefault("DB_POOL_SIZE", "0")
# Tests wrap each test in a transaction: the API's queries must run on the test's connection.
os.environ.setdefault("GATEWAY_DB_SHARED_THREADS", "false")
# The async pool has connections of its own; tests that want it turn it on (and commit their data).
os.environ.setdefault("GATEWAY_DB_ASYNC", "false")
# One upstream call per failure unless a test asks for retries (gateway/tests/test_routing_*.py do).
os.environ.setdefault("ROUTING_MAX_RETRIES", "0")
# The metrics tests scrape without a token (the production default refuses that).
os.environ.setdefault("METRICS_PUBLIC", "true")

from promptgrid.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files from the app folders (no collectstatic in tests; the browser tests need them).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
