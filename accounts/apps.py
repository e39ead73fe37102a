from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People's accounts: logging in (passwords, two-factor devices, single sign-on), personal API tokens,
    password change and reset, and the operators' user pages."""

    name = "accounts"

    def ready(self):
        from auditlog.registry import auditlog

        from . import schema  # noqa: F401  (registers the token's schema with drf-spectacular)
        from .models import GroupMapping, OidcProvider, PlatformSecurity

        auditlog.register(PlatformSecurity)
        auditlog.register(OidcProvider, exclude_fields=["client_secret_encrypted"])
        auditlog.register(GroupMapping)
