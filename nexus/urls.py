from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tenants import views as tenant_views
from vms import views as vm_views

from . import api_urls

admin.site.site_header = "Proxmox VNC Nexus"
admin.site.site_title = "Nexus admin"
admin.site.index_title = "Platform administration"

portal_patterns = [
    path("", tenant_views.home, name="home"),
    path("servers/<int:server_id>/", vm_views.server_guests, name="server"),
]

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_urls, "api"))),
    path("console/", include("console.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
