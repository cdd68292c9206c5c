"""The forwarder in PromptGrid's settings, but served through a handler that runs only the
middleware an API call needs: what skipping the HTML stack on the hot path saves."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.forwarder.settings_stack")

import django

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

API_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]


class LeanASGIHandler(ASGIHandler):
    """Django's ASGI handler with its own, shorter middleware list."""

    def __init__(self, middleware: list[str]) -> None:
        self.middleware_names = middleware
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = self.middleware_names
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full


application = LeanASGIHandler(API_MIDDLEWARE)
