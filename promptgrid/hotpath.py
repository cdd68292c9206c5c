"""The API's hot path runs through a Django handler of its own with a short middleware list.

PromptGrid's middleware stack serves the HTML dashboard: sessions, CSRF, auth,
messages, allauth, htmx, and WhiteNoise, which is sync-only. In an ASGI process a
sync-only middleware moves every request into a thread and back, and the rest of
the stack costs CPU on every call. A chat completion authenticates by its bearer
key and needs none of them, so requests to ``API_PATHS`` go to a second handler
that runs only ``API_MIDDLEWARE`` (request id and security headers); every other
path keeps the full stack. Measured on the benchmark's forwarder (bench/README.md):
about 0.9 ms of CPU and 2 ms of latency less per request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

# Bearer-key endpoints only: nothing here may rely on sessions, CSRF or request.user.
API_PATHS = frozenset({"/api/v1/chat/completions", "/api/v1/generation"})
API_MIDDLEWARE = (
    "promptgrid.observability.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
)


class LeanASGIHandler(ASGIHandler):
    """Django's ASGI handler, with the subset of ``settings.MIDDLEWARE`` named in ``keep``."""

    def __init__(self, keep: tuple[str, ...] = API_MIDDLEWARE) -> None:
        self.keep = keep
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler reads settings.MIDDLEWARE; show it the subset, in the project's order,
        # for the time it takes to build the chain (once, at start).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = [name for name in full if name in self.keep]
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full


def split_http(full: Any, lean: Any, paths: frozenset[str] = API_PATHS) -> Any:
    """An ASGI app that sends ``paths`` to ``lean`` and everything else to ``full``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        handler = lean if scope.get("path") in paths else full
        await handler(scope, receive, send)

    return app
