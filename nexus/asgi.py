import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
django_asgi_app = get_asgi_application()

from .checks import require_production_ready  # noqa: E402

require_production_ready()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up first)
from django.urls import re_path  # noqa: E402

from console.routing import websocket_urlpatterns  # noqa: E402

from .events import websocket_urlpatterns as event_urlpatterns  # noqa: E402
from .ws_auth import SameOriginValidator, SessionUserMiddleware, refuse  # noqa: E402

# A path no route takes is refused before the handshake like any other refusal (not a 500 with a traceback).
websocket_routes = URLRouter([*websocket_urlpatterns, *event_urlpatterns, re_path(r"", refuse)])

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A page of another origin is refused before the handshake (cross-site WebSocket hijacking).
        "websocket": SameOriginValidator(SessionUserMiddleware(websocket_routes)),
    }
)
