from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, views

app_name = "servers"
urlpatterns = [
    path("servers/", views.server_list, name="list"),
    path("servers/add/", views.server_add, name="add"),
    path("servers/import/", views.server_import, name="import"),
    path("servers/import/template.csv", views.import_template, name="import-template"),
    path("servers/<int:server_id>/edit/", views.server_edit, name="edit"),
    path("servers/<int:server_id>/delete/", views.server_remove, name="delete"),
    path("servers/<int:server_id>/certificate/", views.server_certificate, name="certificate"),
    path("servers/<int:server_id>/explore/", views.server_explore, name="explore"),
]

_router = SimpleRouter()
_router.register("servers", api.ProxmoxServerViewSet, basename="server")
# Included by nexus under /api/v1/ in the "api" namespace.
api_urlpatterns = [
    *_router.urls,
    path("servers/<int:server_id>/proxmox/<path:path>", api.ProxmoxReadView.as_view(), name="server-proxmox"),
    path("servers/<int:server_id>/proxmox-tree/", api.ProxmoxTreeView.as_view(), name="server-proxmox-tree"),
]
