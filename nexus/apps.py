import os
import sys

from django.apps import AppConfig
from django.conf import settings


class NexusConfig(AppConfig):
    name = "nexus"

    def ready(self):
        from servers.proxmox import client

        from . import checks, events  # noqa: F401  (checks registers the production checks)
        from .telemetry import observe_proxmox_call

        client.call_observers.append(observe_proxmox_call)
        events.connect()
        if _serving_with_runserver() and settings.HEALTH_EMBEDDED_SCHEDULER:
            from metrics.scheduler import embedded_scheduler_start

            embedded_scheduler_start()


def _serving_with_runserver() -> bool:
    """The process runserver serves from (its autoreloader's child), not the reloader, tests or production."""
    return sys.argv[1:2] == ["runserver"] and os.environ.get("RUN_MAIN") == "true"
