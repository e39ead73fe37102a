from celery import shared_task

from servers.models import ProxmoxServer

from .services import metrics_prune, servers_health_check


@shared_task(ignore_result=True)
def run_health_checks() -> None:
    servers_health_check()


@shared_task(ignore_result=True)
def check_server(server_id: int) -> None:
    """One server's health check, e.g. the first one right after its connection settings were saved."""
    servers_health_check(servers=ProxmoxServer.objects.filter(pk=server_id, is_active=True))


@shared_task(ignore_result=True)
def prune_metrics() -> None:
    metrics_prune()
