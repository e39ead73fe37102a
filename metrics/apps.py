from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self):
        from servers.signals import server_connection_saved

        server_connection_saved.connect(_check_saved_server, dispatch_uid="metrics.first_health_check")


def _check_saved_server(sender, *, server_id: int, **kwargs) -> None:
    """A server's settings were saved: its first health check runs right away, in the background (the embedded
    scheduler's thread where it runs, else a worker)."""
    from .scheduler import embedded_check_soon, embedded_scheduler_running
    from .tasks import check_server

    if embedded_scheduler_running():
        embedded_check_soon(server_id)
    else:
        check_server.delay(server_id)
