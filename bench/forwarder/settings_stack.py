"""The forwarder inside PromptGrid's own settings: same apps and middleware, so the cost
of the middleware stack can be measured apart from the gateway's work.

``BENCH_MIDDLEWARE_DROP`` (comma-separated dotted paths) removes middleware from the
stack, to measure one at a time.
"""

import os

from promptgrid.settings import *  # noqa: F403
from promptgrid.settings import MIDDLEWARE

ROOT_URLCONF = "bench.forwarder.urls"
BENCH_UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9100/v1").rstrip("/")
_drop = {name.strip() for name in os.environ.get("BENCH_MIDDLEWARE_DROP", "").split(",") if name.strip()}
MIDDLEWARE = [name for name in MIDDLEWARE if name not in _drop]
if "allauth.account.middleware.AccountMiddleware" not in MIDDLEWARE:
    # allauth refuses to start without its middleware; the forwarder does not need it.
    INSTALLED_APPS = [app for app in INSTALLED_APPS if not app.startswith("allauth")]  # noqa: F405
