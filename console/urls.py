from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, views

app_name = "console"
urlpatterns = [
    path("console/<int:server_id>/<int:vmid>/", views.console_page, name="page"),
    path("console/sessions/", views.sessions_page, name="sessions"),
    path("console/sessions/<int:session_id>/terminate/", views.session_terminate, name="session-terminate"),
]

_router = SimpleRouter()
_router.register("console-sessions", api.ConsoleSessionViewSet, basename="console-session")
# Included by nexus under /api/v1/ in the "api" namespace.
api_urlpatterns = [
    path("servers/<int:server_id>/vms/<int:vmid>/console/", api.ConsoleRequestView.as_view(), name="guest-console"),
    *_router.urls,
]
