from django.apps import AppConfig


class VmsConfig(AppConfig):
    name = "vms"

    def ready(self):
        from auditlog.registry import auditlog

        from metrics.selectors import tenant_stat_source_register
        from tenants import grants

        from .grants import GuestGrantKind
        from .models import GuestGrant
        from .selectors import tenant_guest_counts

        auditlog.register(GuestGrant)
        tenant_stat_source_register("guests", tenant_guest_counts)
        # One guest of a server can be granted to a user, beside whole servers (the members page, the grants API).
        grants.register(GuestGrantKind())
