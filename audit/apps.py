from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self):
        from auditlog.registry import auditlog

        from servers.models import ProxmoxServer
        from tenants.models import Membership, Tenant

        from . import signals  # noqa: F401  (connects the login receivers)

        auditlog.register(Tenant)
        auditlog.register(Membership)
        auditlog.register(ProxmoxServer, exclude_fields=["token_secret_encrypted"])
