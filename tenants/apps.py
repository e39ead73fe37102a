from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self):
        from auditlog.registry import auditlog

        from .models import Membership, Tenant

        auditlog.register(Tenant)
        auditlog.register(Membership)
