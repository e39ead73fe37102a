from django.urls import path
from django.views.generic import TemplateView
from rest_framework.routers import SimpleRouter

from . import api, views

app_name = "accounts"
urlpatterns = [
    path("account/tokens/", views.tokens_page, name="tokens"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "accounts/password-reset/sent/",
        TemplateView.as_view(template_name="accounts/password_reset_sent.html", http_method_names=["get", "head"]),
        name="password-reset-sent",
    ),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path(
        "accounts/reset/done/",
        TemplateView.as_view(template_name="accounts/password_reset_done.html", http_method_names=["get", "head"]),
        name="password-reset-done",
    ),
    path("operators/users/", views.users_page, name="users"),
    path("operators/users/<int:user_id>/delete/", views.user_delete_view, name="user-delete"),
]

_router = SimpleRouter()
_router.register("tokens", api.ApiTokenViewSet, basename="token")
_router.register("users", api.UserViewSet, basename="user")
# Included by nexus under /api/v1/ in the "api" namespace.
api_urlpatterns = _router.urls
