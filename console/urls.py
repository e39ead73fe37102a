from django.urls import path

from . import views

app_name = "console"
urlpatterns = [path("<int:server_id>/<int:vmid>/", views.console_page, name="page")]
