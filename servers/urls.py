from rest_framework.routers import SimpleRouter

from . import api

_router = SimpleRouter()
_router.register("servers", api.ProxmoxServerViewSet, basename="server")
# Included by nexus under /api/v1/ in the "api" namespace.
api_urlpatterns = _router.urls
