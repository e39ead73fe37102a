from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People's accounts: personal API tokens, password change and reset, and the operators' user pages."""

    name = "accounts"

    def ready(self):
        from . import schema  # noqa: F401  (registers the token's schema with drf-spectacular)
