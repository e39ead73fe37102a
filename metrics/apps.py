from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self):
        from servers.signals import server_connection_saved

        server_connection_saved.connect(_check_saved_server, dispatch_uid="metrics.first_health_check")


def _check_saved_server(sender, *, server_id: int, **kwargs) -> None:
    """A server's settings were saved: its first health check runs right away, in the background."""
    from .tasks import check_server

    check_server.delay(server_id)
