"""Health checks: reach every active Proxmox server at once, record a metric each, keep the server's summary."""

from datetime import timedelta

from django.db.models import Avg, Count, Q
from django.utils import timezone

from nexus.errors import ApplicationError
from servers import proxmox
from servers.models import ConnectionStatus, ProxmoxServer

from .models import ConnectionMetric

SUMMARY_WINDOW = timedelta(hours=24)
RETENTION = timedelta(days=30)
# Below this share of successful checks in the window, a reachable server counts as degraded.
HEALTHY_SUCCESS_RATE = 90.0


def _connections(servers) -> tuple[dict[int, proxmox.Connection], dict[int, str]]:
    connections, broken = {}, {}
    for server in servers:
        try:
            connections[server.pk] = server.connection()
        except (ApplicationError, proxmox.ProxmoxError) as error:
            broken[server.pk] = f"The stored connection settings are unusable: {error.message}"
    return connections, broken


def servers_health_check(*, servers=None) -> list[ConnectionMetric]:
    """Ask each server for its version concurrently (each bounded by its own timeout); record the outcome."""
    servers = list(ProxmoxServer.objects.filter(is_active=True) if servers is None else servers)
    connections, broken = _connections(servers)
    results = proxmox.fan_out(connections, lambda client: client.version())
    now = timezone.now()
    metrics = []
    for server in servers:
        result = results.get(server.pk)
        error = broken.get(server.pk) or (result.error.message if result and result.error else "")
        metrics.append(
            ConnectionMetric(
                server=server,
                timestamp=now,
                kind=ConnectionMetric.Kind.HEALTH_CHECK,
                success=not error,
                response_time_ms=None if error else round(result.elapsed * 1000),
                error=error,
            )
        )
    ConnectionMetric.objects.bulk_create(metrics)
    for metric in metrics:
        _summarise(metric)
    return metrics


def _summarise(metric: ConnectionMetric) -> None:
    """The server's status and its 24-hour response time and success rate."""
    window = ConnectionMetric.objects.filter(server=metric.server, timestamp__gte=metric.timestamp - SUMMARY_WINDOW)
    figures = window.aggregate(
        checks=Count("pk"),
        successes=Count("pk", filter=Q(success=True)),
        avg_ms=Avg("response_time_ms", filter=Q(success=True)),
    )
    success_rate = 100.0 * figures["successes"] / figures["checks"]
    if not metric.success:
        status = ConnectionStatus.OFFLINE
    elif success_rate < HEALTHY_SUCCESS_RATE:
        status = ConnectionStatus.DEGRADED
    else:
        status = ConnectionStatus.ONLINE
    ProxmoxServer.objects.filter(pk=metric.server.pk).update(
        connection_status=status,
        last_health_check_at=metric.timestamp,
        health_check_error=metric.error,
        avg_response_time_ms=None if figures["avg_ms"] is None else round(figures["avg_ms"]),
        success_rate=round(success_rate, 1),
    )


def metrics_prune() -> int:
    """Forget metrics older than RETENTION; returns how many."""
    deleted, _ = ConnectionMetric.objects.filter(timestamp__lt=timezone.now() - RETENTION).delete()
    return deleted
