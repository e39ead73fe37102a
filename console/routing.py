from django.urls import re_path

from .consumers import ConsoleConsumer

# The one-time token comes as a subprotocol, not in the path (console.services.TOKEN_PROTOCOL).
websocket_urlpatterns = [
    re_path(r"^ws/console/$", ConsoleConsumer.as_asgi()),
]
