from django.urls import path

from . import views

app_name = "tenants"
urlpatterns = [
    path("tenants/switch/", views.tenant_switch, name="switch"),
]
