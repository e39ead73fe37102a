from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People's accounts: personal API tokens, password change and reset, and the operators' user pages."""

    name = "accounts"
