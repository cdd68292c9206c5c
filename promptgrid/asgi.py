"""ASGI entry point: HTTP through Django, websockets through channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.settings")
os.environ["PROMPTGRID_ASGI_PROCESS"] = "1"  # settings leave runserver's daphne app out
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from gateway.asgi import gateway_http  # noqa: E402
from gateway.providers import get_adapter  # noqa: E402
from promptgrid.routing import websocket_urlpatterns  # noqa: E402

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
