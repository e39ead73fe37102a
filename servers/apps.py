from django.apps import AppConfig


class ServersConfig(AppConfig):
    name = "servers"

    def ready(self):
        from auditlog.registry import auditlog

        from nexus.api import translate_errors

        from . import proxmox
        from .errors import proxmox_failure
        from .models import ProxmoxServer

        auditlog.register(ProxmoxServer, exclude_fields=["token_secret_encrypted"])
        translate_errors(proxmox.ProxmoxError, proxmox_failure)
