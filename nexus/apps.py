from django.apps import AppConfig


class NexusConfig(AppConfig):
    name = "nexus"

    def ready(self):
        from . import checks  # noqa: F401  (registers the production checks)
