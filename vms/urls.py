from django.urls import path

from . import api, views

app_name = "vms"
urlpatterns = [
    path("guests/", views.guests_page, name="guests"),
    path("servers/<int:server_id>/", views.server_guests, name="server"),
    path("servers/<int:server_id>/guests/<int:vmid>/power/", views.guest_power_action, name="guest-power"),
    path("servers/<int:server_id>/tasks/<str:upid>/", views.task_progress, name="task"),
]
# Included by nexus under /api/v1/ in the "api" namespace.
api_urlpatterns = [
    path("guests/", api.GuestsView.as_view(), name="guests"),
    path("servers/<int:server_id>/vms/", api.GuestListView.as_view(), name="guest-list"),
    path("servers/<int:server_id>/vms/<int:vmid>/", api.GuestDetailView.as_view(), name="guest-detail"),
    path("servers/<int:server_id>/vms/<int:vmid>/power/", api.GuestPowerView.as_view(), name="guest-power"),
    path("servers/<int:server_id>/tasks/<str:upid>/", api.TaskDetailView.as_view(), name="task-detail"),
]
