"""Celery tasks of the health checks: they only call metrics.services.

A sweep (beat, every HEALTH_CHECK_INTERVAL; its entry expires so no backlog builds up while workers are down) sends
one task per chunk of servers, so the chunks spread over the workers. A chunk task is idempotent (it checks only
servers due and not leased to another), so it is acknowledged late and redelivered when its worker dies.
"""

from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from servers.models import ProxmoxServer

from .services import health_sweep_start, metrics_prune, servers_health_check, servers_health_check_chunk


@shared_task(ignore_result=True)
def run_health_checks() -> None:
    sweep = health_sweep_start()
    if sweep is None:
        return  # this interval's sweep has started elsewhere
    # A chunk waits at most until the next-but-one sweep; the broker hands a dead worker's chunk on after its
    # visibility timeout, within that.
    expires = settings.HEALTH_CHECK_INTERVAL + settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    for server_ids in sweep.chunks:
        check_servers.apply_async(args=[server_ids, sweep.started.isoformat()], expires=expires)


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def check_servers(self, server_ids: list[int], sweep_started: str) -> None:
    """One chunk of a sweep."""
    servers_health_check_chunk(
        server_ids=server_ids, holder=self.request.id or "", sweep_started=datetime.fromisoformat(sweep_started)
    )


@shared_task(ignore_result=True)
def check_server(server_id: int) -> None:
    """One server's health check, e.g. the first one right after its connection settings were saved."""
    servers_health_check(servers=ProxmoxServer.objects.filter(pk=server_id, is_active=True))


@shared_task(ignore_result=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def prune_metrics() -> None:
    metrics_prune()
