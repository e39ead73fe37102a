from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"

    def ready(self):
        from metrics.selectors import tenant_stat_source_register

        from . import receivers
        from .selectors import tenant_consoles_open

        receivers.connect()
        tenant_stat_source_register("consoles_open", tenant_consoles_open)
