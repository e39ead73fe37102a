from django.apps import AppConfig


class VmsConfig(AppConfig):
    name = "vms"

    def ready(self):
        from auditlog.registry import auditlog

        from .models import GuestGrant

        auditlog.register(GuestGrant)
