"""The forwarder in PromptGrid's settings, served through the gateway's own API handler
(``gateway.asgi.ApiHandler``: no middleware), as the chat endpoint is: what skipping the
dashboard's middleware saves."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.forwarder.settings_stack")

import django

django.setup(set_prefix=False)

from gateway.asgi import ApiHandler  # noqa: E402

application = ApiHandler()
