"""The smallest Django that can serve the forwarder: no apps, no middleware, no database."""

import os

SECRET_KEY = "bench-forwarder-not-a-secret-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.forwarder.urls"
DATABASES: dict = {}
USE_TZ = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024
# Where the forwarder sends every request (the fake upstream's base URL, with /v1).
BENCH_UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9100/v1").rstrip("/")
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
