from django.urls import re_path

from .consumers import ConsoleConsumer

websocket_urlpatterns = [
    re_path(r"^ws/console/(?P<token>[A-Za-z0-9_-]{20,100})/$", ConsoleConsumer.as_asgi()),
]
