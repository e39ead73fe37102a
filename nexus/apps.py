from django.apps import AppConfig


class NexusConfig(AppConfig):
    name = "nexus"

    def ready(self):
        from . import checks, events  # noqa: F401  (checks registers the production checks)

        events.connect()
