from django.apps import AppConfig


class ServersConfig(AppConfig):
    name = "servers"

    def ready(self):
        from auditlog.registry import auditlog

        from nexus.api import translate_errors
        from tenants import grants, roles

        from . import proxmox
        from .errors import proxmox_failure
        from .models import ProxmoxServer

        auditlog.register(ProxmoxServer, exclude_fields=["token_secret_encrypted"])
        # One server can be granted to a user (tenants.grants): its view, its consoles, its power actions.
        grants.register(
            grants.ObjectGrantKind(
                "server",
                ProxmoxServer,
                {"view": roles.VIEW_SERVER, "console": roles.OPEN_CONSOLE, "power": roles.POWER_GUESTS},
            )
        )
        translate_errors(proxmox.ProxmoxError, proxmox_failure)
