from django.urls import path
from rest_framework.routers import DefaultRouter

from console.api import ConsoleSessionViewSet
from servers.api import ProxmoxServerViewSet
from vms.api import ConsoleRequestView, GuestDetailView, GuestListView

router = DefaultRouter()
router.register("servers", ProxmoxServerViewSet, basename="server")
router.register("console-sessions", ConsoleSessionViewSet, basename="console-session")

urlpatterns = [
    path("servers/<int:server_id>/vms/", GuestListView.as_view(), name="guest-list"),
    path("servers/<int:server_id>/vms/<int:vmid>/", GuestDetailView.as_view(), name="guest-detail"),
    path("servers/<int:server_id>/vms/<int:vmid>/console/", ConsoleRequestView.as_view(), name="guest-console"),
    *router.urls,
]
