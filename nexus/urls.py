from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views

from . import api_urls, views

admin.site.site_header = "Proxmox VNC Nexus"
admin.site.site_title = "Nexus admin"
admin.site.index_title = "Platform administration"

urlpatterns = [
    path(
        "",
        include(
            (
                [
                    path("", views.home, name="home"),
                    path("operators/", views.operators_overview, name="operators"),
                    path("dashboard/<slug:slug>/<slug:part>/", views.dashboard_part, name="dashboard-part"),
                    path("operators/", views.operators_overview, name="operators"),
                ],
                "portal",
            )
        ),
    ),
    path("", include("accounts.urls")),
    path("", include("tenants.urls")),
    path("", include("servers.urls")),
    path("", include("vms.urls")),
    path("", include("console.urls")),
    path("accounts/login/", account_views.LoginView.as_view(http_method_names=["get", "post"]), name="login"),
    path("accounts/logout/", account_views.LogoutView.as_view(), name="logout"),
    # The admin logs in through the portal's login, with its second step.
    path("admin/login/", account_views.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_urls, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    # Browsers ask for /favicon.ico where a page names no icon (the admin, the API, files).
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("img/favicon.svg"), http_method_names=["get", "head"]),
        name="favicon",
    ),
    # Every component of the design system, live, for those who build pages.
    path("design/", staff_member_required(TemplateView.as_view(template_name="design/components.html")), name="design"),
]

handler404 = "nexus.views.page_not_found"
handler500 = "nexus.views.server_error"
