"""/api/v1/: each app's API routes, and a browsable root that lists the collections."""

from django.urls import path
from rest_framework.routers import APIRootView

from accounts.urls import api_urlpatterns as accounts_api
from console.urls import api_urlpatterns as console_api
from metrics.urls import api_urlpatterns as metrics_api
from servers.urls import api_urlpatterns as servers_api
from tenants.urls import api_urlpatterns as tenants_api
from vms.urls import api_urlpatterns as vms_api

urlpatterns = [
    path(
        "",
        APIRootView.as_view(
            api_root_dict={
                "servers": "server-list",
                "guests": "guests",
                "console-sessions": "console-session-list",
                "tenants": "tenant-list",
                "tokens": "token-list",
                "users": "user-list",
            }
        ),
        name="api-root",
    ),
    *servers_api,
    *vms_api,
    *console_api,
    *metrics_api,
    *accounts_api,
    *tenants_api,
]
