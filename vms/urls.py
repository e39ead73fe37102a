from django.urls import path

from . import api, views

app_name = "vms"
urlpatterns = [
    path("servers/<int:server_id>/", views.server_guests, name="server"),
]
# Included by nexus under /api/v1/ in the "api" namespace.
api_urlpatterns = [
    path("servers/<int:server_id>/vms/", api.GuestListView.as_view(), name="guest-list"),
    path("servers/<int:server_id>/vms/<int:vmid>/", api.GuestDetailView.as_view(), name="guest-detail"),
]
