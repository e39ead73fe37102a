from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("<int:server_id>/<int:vmid>/", views.console_page, name="page"),
    path("sessions/", views.sessions_page, name="sessions"),
    path("sessions/<int:session_id>/terminate/", views.session_terminate, name="session-terminate"),
]
