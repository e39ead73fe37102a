from django.urls import path

from . import api

api_urlpatterns = [
    path("servers/<int:server_id>/metrics/", api.ServerMetricsView.as_view(), name="server-metrics"),
    path("tenants/<slug:slug>/stats/", api.TenantStatsView.as_view(), name="tenant-stats"),
]
