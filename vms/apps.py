from django.apps import AppConfig


class VmsConfig(AppConfig):
    name = "vms"

    def ready(self):
        from auditlog.registry import auditlog

        from metrics.selectors import tenant_stat_source_register

        from .models import GuestGrant
        from .selectors import tenant_guest_counts

        auditlog.register(GuestGrant)
        tenant_stat_source_register("guests", tenant_guest_counts)
