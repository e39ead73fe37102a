from django.urls import path
from django.views.generic import TemplateView
from django.views.i18n import JavaScriptCatalog
from rest_framework.routers import SimpleRouter

from . import api, passkeys, views

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
    # The second step of a login, and passkey logins (the two-factor gate lets these through: accounts.middleware).
    path("accounts/login/verify/", views.login_verify, name="login-verify"),
    path("accounts/login/passkey/begin/", passkeys.AuthenticationBegin.as_view(), name="passkey-login-begin"),
    path("accounts/login/passkey/complete/", passkeys.AuthenticationComplete.as_view(), name="passkey-login-complete"),
    # Two-factor devices (also open to who must enrol before anything else).
    path("account/security/", views.security_page, name="security"),
    path("account/security/totp/", views.totp_enrol, name="totp-enrol"),
    path("account/security/recovery-codes/", views.recovery_codes_view, name="recovery-codes"),
    path("account/security/passkeys/begin/", passkeys.RegistrationBegin.as_view(), name="passkey-register-begin"),
    path(
        "account/security/passkeys/complete/", passkeys.RegistrationComplete.as_view(), name="passkey-register-complete"
    ),
    path(
        "account/security/passkeys/i18n.js",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn"], http_method_names=["get", "head"]),
        name="passkey-i18n",
    ),
    path("account/security/<slug:kind>/<int:device_id>/rename/", views.device_rename_view, name="device-rename"),
    path("account/security/<slug:kind>/<int:device_id>/remove/", views.device_remove_view, name="device-remove"),
    # Single sign-on: off to a provider, its answer; a tenant's group mappings.
    path("accounts/sso/<slug:slug>/", views.sso_start, name="sso-login"),
    path("accounts/sso/<slug:slug>/callback/", views.sso_callback, name="sso-callback"),
    path("tenants/<slug:slug>/sso-groups/", views.sso_groups_page, name="sso-groups"),
    path("tenants/<slug:slug>/sso-groups/add/", views.sso_group_add, name="sso-group-add"),
    path("tenants/<slug:slug>/sso-groups/<int:mapping_id>/remove/", views.sso_group_remove, name="sso-group-remove"),
    path("operators/users/", views.users_page, name="users"),
    path("operators/users/<int:user_id>/reset-two-factor/", views.two_factor_reset_view, name="user-two-factor-reset"),
    path("operators/users/<int:user_id>/delete/", views.user_delete_view, name="user-delete"),
]

_router = SimpleRouter()
_router.register("tokens", api.ApiTokenViewSet, basename="token")
_router.register("users", api.UserViewSet, basename="user")
# Included by nexus under /api/v1/ in the "api" namespace.
api_urlpatterns = _router.urls
