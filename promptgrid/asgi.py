"""ASGI entry point: HTTP through Django, websockets through channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.settings")
# Settings leave runserver's daphne app out of a server process. Only while they load:
# processes this one starts later (tests, commands) get their usual settings.
os.environ["PROMPTGRID_ASGI_PROCESS"] = "1"
try:
    django_asgi_app = get_asgi_application()
finally:
    del os.environ["PROMPTGRID_ASGI_PROCESS"]

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

from gateway.asgi import gateway_http
from gateway.providers import get_adapter
from promptgrid.routing import websocket_urlpatterns

# Import the OpenAI-protocol SDK now, not on a worker's first request: the import takes
# seconds of CPU and would stall every request on that worker's event loop meanwhile.
for _protocol in ("openai", "mock"):
    get_adapter(_protocol)

application = ProtocolTypeRouter(
    {
        # The OpenAI-compatible endpoints skip the site middleware and cap the body early.
        "http": gateway_http(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
