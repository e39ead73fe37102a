from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import api_urls, views

admin.site.site_header = "Proxmox VNC Nexus"
admin.site.site_title = "Nexus admin"
admin.site.index_title = "Platform administration"

urlpatterns = [
    path("", include(([path("", views.home, name="home")], "portal"))),
    path("", include("vms.urls")),
    path("", include("console.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True, http_method_names=["get", "post"]), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_urls, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
]
