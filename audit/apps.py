from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Audit is written to by every app and imports none: each app registers its own models with
    django-auditlog in its AppConfig.ready."""

    name = "audit"

    def ready(self):
        from . import signals  # noqa: F401  (connects the login receivers)
