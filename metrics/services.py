"""Health checks: a sweep splits the active servers in chunks; each chunk is checked at once (each server within its
learned timeout), recorded, summed up per hour, and its status changes published.

- One sweep per interval: `health_sweep_start` takes the interval's slot (an atomic cache add: Redis in production).
- One check of a server at a time: a chunk leases its servers (a row lease on the server, so a second beat, a
  sweep that outlasts the interval or a redelivered chunk never checks a server twice at once), and skips servers
  checked in the last half interval (a second sweep of the same interval checks nothing again).
- States: online, degraded (slow, or some nodes not online), offline only after HEALTH_OFFLINE_AFTER failures in a
  row, online again at the first success. A status is changed by compare-and-swap, so racing writers record each
  transition once, and each transition is published to the tenant (`server.status`), each result too
  (`server.health`).
- Learned timeouts: see `learned_timeout_ms`.
"""

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, close_old_connections, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from nexus.errors import ApplicationError
from nexus.telemetry import observe_health_check
from servers import proxmox
from servers.models import ConnectionStatus, ProxmoxServer
from tenants.events import tenant_event_publish

from .models import ConnectionMetric, HourlyRollup
from .selectors import hour_start

logger = logging.getLogger(__name__)

SUMMARY_WINDOW = timedelta(hours=24)
LEARNING_WINDOW = timedelta(hours=1)
# An offline server is checked with the ceiling every this many failures, so one that came back slower than it
# used to answer can prove it.
RECOVERY_EVERY = 5
SWEEP_SLOT_KEY = "metrics:health-sweep"
PRUNE_BATCH = 5000


# --------------------------------------------------------------------------------------------------- learned timeout


def learned_timeout_ms(response_times_ms: list[int]) -> int | None:
    """HEALTH_TIMEOUT_FACTOR x the 95th percentile of a server's successful check times of the last hour, clamped
    between HEALTH_TIMEOUT_FLOOR and HEALTH_TIMEOUT_CEILING; None without any (the server keeps what it had)."""
    if not response_times_ms:
        return None
    p95 = percentile(response_times_ms, 95)
    floor, ceiling = settings.HEALTH_TIMEOUT_FLOOR * 1000, settings.HEALTH_TIMEOUT_CEILING * 1000
    return round(min(max(settings.HEALTH_TIMEOUT_FACTOR * p95, floor), ceiling))


def percentile(values: list[int], pct: int) -> int:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def check_timeout(server: ProxmoxServer) -> float:
    """Seconds a check of the server may take: its learned timeout, else its connection timeout; an offline
    server gets the ceiling every RECOVERY_EVERY failures."""
    ceiling = settings.HEALTH_TIMEOUT_CEILING
    if server.connection_status == ConnectionStatus.OFFLINE and server.consecutive_failures % RECOVERY_EVERY == 0:
        return ceiling
    if server.learned_timeout_ms:
        return server.learned_timeout_ms / 1000
    return min(float(server.connection_timeout), ceiling)


# ------------------------------------------------------------------------------------------------------------ sweep


@dataclass(frozen=True)
class Sweep:
    started: datetime
    chunks: list[list[int]]


def health_sweep_start() -> Sweep | None:
    """The active servers in chunks of HEALTH_CHECK_CHUNK_SIZE, or None when this interval's sweep has started
    already (a second beat, or beat's late double)."""
    started = timezone.now()
    interval = settings.HEALTH_CHECK_INTERVAL
    if not cache.add(SWEEP_SLOT_KEY, started.isoformat(), timeout=max(1, interval * 0.8)):
        return None
    ids = list(ProxmoxServer.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    size = max(1, settings.HEALTH_CHECK_CHUNK_SIZE)
    return Sweep(started, [ids[at : at + size] for at in range(0, len(ids), size)])


def _lease_seconds() -> float:
    # Long enough for a check at the ceiling and its console probe, with room to write the results.
    return 2 * settings.HEALTH_TIMEOUT_CEILING + 30


def _claim(server_ids: list[int], *, holder: str, since: datetime | None) -> list[ProxmoxServer]:
    """Lease the servers no one else is checking (and, with `since`, not checked since then) to `holder`."""
    now = timezone.now()
    free = Q(health_lease_until__isnull=True) | Q(health_lease_until__lt=now) | Q(health_lease=holder)
    candidates = ProxmoxServer.objects.filter(free, pk__in=server_ids, is_active=True).order_by("pk")
    if since is not None:
        candidates = candidates.filter(Q(last_health_check_at__isnull=True) | Q(last_health_check_at__lt=since))
    with transaction.atomic():
        # skip_locked: a server another chunk is claiming this instant is simply its to check.
        ids = list(candidates.select_for_update(skip_locked=True).values_list("pk", flat=True))
        until = now + timedelta(seconds=_lease_seconds())
        ProxmoxServer.objects.filter(pk__in=ids).update(health_lease=holder, health_lease_until=until)
    return list(ProxmoxServer.objects.filter(pk__in=ids).select_related("tenant").order_by("pk"))


def servers_health_check_chunk(*, server_ids: list[int], holder: str, sweep_started: datetime | None = None):
    """Check the servers of one chunk that are due and not being checked: a sweep's task runs it (holder: its task
    id, so a redelivered chunk takes its own leases back). Returns the metrics written."""
    since = None
    if sweep_started is not None:
        since = sweep_started - timedelta(seconds=settings.HEALTH_CHECK_INTERVAL / 2)
    servers = _with_retries(lambda: _claim(server_ids, holder=holder, since=since))
    return _check_and_record(servers)


def servers_health_check(*, servers=None) -> list[ConnectionMetric]:
    """Check the given servers (all active ones by default) now, whenever they were last checked, unless another
    check of them runs: the first check of a saved server, `manage.py healthcheck`."""
    ids = [server.pk for server in (ProxmoxServer.objects.filter(is_active=True) if servers is None else servers)]
    holder = f"now-{time.monotonic_ns()}"
    return _check_and_record(_with_retries(lambda: _claim(ids, holder=holder, since=None)))


# -------------------------------------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class _Outcome:
    server: ProxmoxServer
    success: bool
    ms: int | None
    error: str
    slow_or_partial: bool
    probe: ConnectionMetric | None


def _nodes_down(nodes: list[dict]) -> list[str]:
    return sorted(str(node.get("node")) for node in nodes if node.get("status") != "online")


def _check(servers: list[ProxmoxServer]) -> list[_Outcome]:
    connections, broken = {}, {}
    for server in servers:
        try:
            connections[server.pk] = replace(server.connection(), timeout=check_timeout(server))
        except (ApplicationError, proxmox.ProxmoxError) as error:
            broken[server.pk] = f"The stored connection settings are unusable: {error.message}"
    # All of a chunk at once: the chunk takes about its slowest server's timeout, not a multiple of it.
    results = proxmox.fan_out(connections, lambda client: client.nodes(), max_workers=max(1, len(connections)))
    answered = [server for server in servers if server.pk in results and results[server.pk].ok]
    probes = _probe_consoles([s for s in answered if s.console_probe and s.console_probe_vmid], connections)
    outcomes = []
    for server in servers:
        result = results.get(server.pk)
        observe_health_check(success=result is not None and result.ok, seconds=result.elapsed if result else 0.0)
        if server.pk in broken or not result.ok:
            error = broken.get(server.pk) or result.error.message
            outcomes.append(_Outcome(server, False, None, error, False, probes.get(server.pk)))
            continue
        ms = round(result.elapsed * 1000)
        down = _nodes_down(result.value)
        error = f"Nodes not online: {', '.join(down)}." if down else ""
        slow = ms > settings.HEALTH_SLOW_MS
        outcomes.append(_Outcome(server, True, ms, error, slow or bool(down), probes.get(server.pk)))
    return outcomes


def _probe_consoles(servers: list[ProxmoxServer], connections: dict) -> dict[int, ConnectionMetric]:
    """Time to console of each server's chosen guest: vncproxy, WebSocket upgrade, RFB greeting."""
    guest_of = {id(connections[server.pk]): server.console_probe_vmid for server in servers}
    results = proxmox.fan_out(
        {server.pk: connections[server.pk] for server in servers},
        lambda client: proxmox.console_greeting(client, guest_of[id(client.connection)]),
    )
    now = timezone.now()
    return {
        pk: ConnectionMetric(
            server_id=pk,
            timestamp=now,
            kind=ConnectionMetric.Kind.CONSOLE_PROBE,
            success=result.ok,
            response_time_ms=round(result.elapsed * 1000) if result.ok else None,
            error="" if result.ok else result.error.message,
        )
        for pk, result in results.items()
    }


def _next_status(server: ProxmoxServer, outcome: _Outcome) -> tuple[str, int]:
    """The status after this check, and the failures in a row."""
    if outcome.success:
        return (ConnectionStatus.DEGRADED if outcome.slow_or_partial else ConnectionStatus.ONLINE), 0
    failures = server.consecutive_failures + 1
    if failures >= settings.HEALTH_OFFLINE_AFTER:
        return ConnectionStatus.OFFLINE, failures
    if server.connection_status == ConnectionStatus.UNKNOWN:
        return ConnectionStatus.UNKNOWN, failures
    return ConnectionStatus.DEGRADED, failures


def _check_and_record(servers: list[ProxmoxServer]) -> list[ConnectionMetric]:
    if not servers:
        return []
    outcomes = _check(servers)
    return _with_retries(lambda: _record(outcomes))


def _with_retries(write, attempts: int = 4):
    """Claims and results are written in transactions; a database that went away for a moment (a restart) or was
    busy (SQLite's lock) is retried with back-off instead of losing the checks."""
    for attempt in range(attempts):
        try:
            return write()
        except OperationalError as error:
            if attempt == attempts - 1:
                raise
            logger.warning("health results not written (%s); retrying", error)
            close_old_connections()
            time.sleep(0.5 * 2**attempt)
    return None


@transaction.atomic
def _record(outcomes: list[_Outcome]) -> list[ConnectionMetric]:
    now = timezone.now()
    metrics = [
        ConnectionMetric(
            server=outcome.server,
            timestamp=now,
            kind=ConnectionMetric.Kind.HEALTH_CHECK,
            success=outcome.success,
            response_time_ms=outcome.ms,
            error=outcome.error,
        )
        for outcome in outcomes
    ]
    probes = [outcome.probe for outcome in outcomes if outcome.probe is not None]
    ConnectionMetric.objects.bulk_create(metrics + probes)
    ids = [outcome.server.pk for outcome in outcomes]
    learned = _rollup(ids, now)
    day = {
        row["server_id"]: row
        for row in HourlyRollup.objects.filter(server_id__in=ids, hour__gte=hour_start(now) - timedelta(hours=23))
        .values("server_id")
        .annotate(checks=Sum("checks"), successes=Sum("successes"), sum_ms=Sum("sum_ms"))
    }
    for outcome in outcomes:
        _write_server(outcome, now, learned.get(outcome.server.pk), day.get(outcome.server.pk))
    return metrics + probes


def _rollup(server_ids: list[int], now: datetime) -> dict[int, int]:
    """Recount this hour's rollup of each server from its metrics (idempotent, whoever writes last is right);
    returns each server's learned timeout from the last hour's successful checks."""
    hour = hour_start(now)
    rows = ConnectionMetric.objects.filter(
        server_id__in=server_ids,
        kind__in=[ConnectionMetric.Kind.HEALTH_CHECK, ConnectionMetric.Kind.CONSOLE_PROBE],
        timestamp__gte=min(hour, now - LEARNING_WINDOW),
    ).values_list("server_id", "kind", "success", "response_time_ms", "timestamp")
    recent, checks, probes = defaultdict(list), defaultdict(list), defaultdict(list)
    for server_id, kind, success, ms, timestamp in rows:
        if kind == ConnectionMetric.Kind.CONSOLE_PROBE:
            if success and timestamp >= hour:
                probes[server_id].append(ms)
            continue
        if success:
            recent[server_id].append(ms)
        if timestamp >= hour:
            checks[server_id].append(ms if success else None)
    rollups = []
    for server_id in server_ids:
        times = [ms for ms in checks[server_id] if ms is not None]
        rollups.append(
            HourlyRollup(
                server_id=server_id,
                hour=hour,
                checks=len(checks[server_id]),
                successes=len(times),
                sum_ms=sum(times),
                avg_ms=round(sum(times) / len(times)) if times else None,
                p95_ms=percentile(times, 95) if times else None,
                probe_ms=round(sum(probes[server_id]) / len(probes[server_id])) if probes[server_id] else None,
            )
        )
    HourlyRollup.objects.bulk_create(
        rollups,
        update_conflicts=True,
        unique_fields=["server", "hour"],
        update_fields=["checks", "successes", "sum_ms", "avg_ms", "p95_ms", "probe_ms"],
    )
    return {server_id: learned_timeout_ms(times) for server_id, times in recent.items()}


def _write_server(outcome: _Outcome, now: datetime, learned: int | None, day: dict | None) -> None:
    server = outcome.server
    status, failures = _next_status(server, outcome)
    fields = {
        "last_health_check_at": now,
        "health_check_error": outcome.error,
        "consecutive_failures": failures,
        "learned_timeout_ms": learned or server.learned_timeout_ms,
        "health_lease": "",
        "health_lease_until": None,
    }
    if day and day["checks"]:
        fields["success_rate"] = round(100.0 * day["successes"] / day["checks"], 1)
        fields["avg_response_time_ms"] = round(day["sum_ms"] / day["successes"]) if day["successes"] else None
    mine = ProxmoxServer.objects.filter(pk=server.pk)
    if status != server.connection_status and mine.filter(connection_status=server.connection_status).update(
        connection_status=status, **fields
    ):
        tenant_event_publish(
            tenant_id=server.tenant_id,
            kind="server.status",
            data={
                "server": server.pk,
                "name": server.name,
                "status": status,
                "previous": server.connection_status,
                "at": now.isoformat(),
            },
        )
    else:
        # No change, or another writer changed the status first: it recorded (and published) that transition.
        mine.update(**fields)
        if status != server.connection_status:
            status = mine.values_list("connection_status", flat=True).first()
    tenant_event_publish(
        tenant_id=server.tenant_id,
        kind="server.health",
        data={
            "server": server.pk,
            "at": now.isoformat(),
            "ok": outcome.success,
            "ms": outcome.ms,
            "probe_ms": outcome.probe.response_time_ms if outcome.probe else None,
            "status": status,
        },
    )


# ------------------------------------------------------------------------------------------------------- retention


def metrics_prune() -> int:
    """Forget metrics older than METRICS_RETENTION_DAYS and hourly rollups older than METRICS_ROLLUP_RETENTION_DAYS,
    PRUNE_BATCH rows a statement (short locks, small undo); returns how many rows went."""
    now = timezone.now()
    metrics = ConnectionMetric.objects.filter(timestamp__lt=now - timedelta(days=settings.METRICS_RETENTION_DAYS))
    rollups = HourlyRollup.objects.filter(hour__lt=now - timedelta(days=settings.METRICS_ROLLUP_RETENTION_DAYS))
    return _delete_in_batches(metrics) + _delete_in_batches(rollups)


def _delete_in_batches(queryset) -> int:
    deleted = 0
    while True:
        batch = list(queryset.order_by().values_list("pk", flat=True)[:PRUNE_BATCH])
        if not batch:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=batch).delete()[0]
