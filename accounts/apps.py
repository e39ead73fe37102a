from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People's accounts: logging in (passwords, two-factor devices, single sign-on), personal API tokens,
    password change and reset, and the operators' user pages."""

    name = "accounts"

    def ready(self):
        from auditlog.registry import auditlog

        from tenants.services import invitation_sign_in_provider_register

        from . import schema  # noqa: F401  (registers the token's schema with drf-spectacular)
        from .models import GroupMapping, OidcProvider, PlatformSecurity
        from .selectors import sso_provider_for_domain

        auditlog.register(PlatformSecurity)
        auditlog.register(OidcProvider, exclude_fields=["client_secret_encrypted"])
        auditlog.register(GroupMapping)
        # Invited addresses of a domain without password login are told to log in through their provider.
        invitation_sign_in_provider_register(lambda email: getattr(sso_provider_for_domain(email), "name", None))
