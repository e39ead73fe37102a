from celery import shared_task

from .services import metrics_prune, servers_health_check


@shared_task(ignore_result=True)
def run_health_checks() -> None:
    servers_health_check()


@shared_task(ignore_result=True)
def prune_metrics() -> None:
    metrics_prune()
