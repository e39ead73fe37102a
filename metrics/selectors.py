"""Reads of health figures: hourly buckets for charts and a tenant's figures for its dashboard.

The buckets come from `HourlyRollup` (one row per server and hour, kept up to date as checks are written), so a
24-hour chart reads 24 rows per server however long metrics are kept. `server_hourly_buckets` takes ids the caller
has already restricted (through `tenants.access`); `tenant_stats` restricts itself.

metrics sits below vms and console, so what they know of a tenant (guests from vms' guest-list cache, consoles open)
reaches `tenant_stats` through sources they register in their AppConfig.ready (`tenant_stat_source_register`).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Max, QuerySet, Sum
from django.utils import timezone

from servers.models import ConnectionStatus, ProxmoxServer
from tenants import roles

from .models import HourlyRollup

MAX_HOURS = 168


@dataclass(frozen=True)
class HourBucket:
    hour: datetime  # aware, the start of the hour
    checks: int
    successes: int
    success_rate: float | None  # 0-100; None without checks
    avg_ms: int | None
    p95_ms: int | None
    probe_ms: int | None

    def as_dict(self) -> dict:
        return {
            "hour": self.hour.isoformat(),
            "checks": self.checks,
            "successes": self.successes,
            "success_rate": self.success_rate,
            "avg_ms": self.avg_ms,
            "p95_ms": self.p95_ms,
            "probe_ms": self.probe_ms,
        }


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _window(hours: int) -> list[datetime]:
    """The starts of the last `hours` hours, oldest first, the current (unfinished) hour last."""
    last = hour_start(timezone.now())
    return [last - timedelta(hours=back) for back in range(hours - 1, -1, -1)]


def _bucket(hour: datetime, row: dict | None) -> HourBucket:
    if row is None or not row["checks"]:
        return HourBucket(hour, 0, 0, None, None, None, row and row["probe_ms"])
    rate = round(100.0 * row["successes"] / row["checks"], 1)
    return HourBucket(hour, row["checks"], row["successes"], rate, row["avg_ms"], row["p95_ms"], row["probe_ms"])


def server_hourly_buckets(*, server_ids: Iterable[int], hours: int = 24) -> dict[int, list[HourBucket]]:
    """Per server id, one bucket per hour of the last `hours` (1..168), oldest first; hours without checks have
    checks=0. One query whatever the number of servers."""
    hours = max(1, min(MAX_HOURS, int(hours)))
    server_ids = list(server_ids)
    window = _window(hours)
    rows = (
        HourlyRollup.objects.filter(server_id__in=server_ids, hour__gte=window[0])
        .order_by()
        .values("server_id", "hour", "checks", "successes", "avg_ms", "p95_ms", "probe_ms")
    )
    found = {(row["server_id"], row["hour"]): row for row in rows}
    return {server_id: [_bucket(hour, found.get((server_id, hour))) for hour in window] for server_id in server_ids}


def tenant_hourly_buckets(*, tenant, user, hours: int = 24) -> list[HourBucket]:
    """The tenant's servers that the user sees, as one: per hour, all their checks and successes, the average
    response time over all successes, the worst server's p95 (percentiles do not add up) and the average probe
    time. One query."""
    hours = max(1, min(MAX_HOURS, int(hours)))
    window = _window(hours)
    rows = (
        HourlyRollup.objects.filter(server__in=_servers_seen(tenant, user), hour__gte=window[0])
        .order_by()
        .values("hour")
        .annotate(
            checks_=Sum("checks"),
            successes_=Sum("successes"),
            sum_ms_=Sum("sum_ms"),
            p95_ms_=Max("p95_ms"),
            probe_ms_=Avg("probe_ms"),
        )
    )
    found = {
        row["hour"]: {
            "checks": row["checks_"],
            "successes": row["successes_"],
            "avg_ms": round(row["sum_ms_"] / row["successes_"]) if row["successes_"] else None,
            "p95_ms": row["p95_ms_"],
            "probe_ms": None if row["probe_ms_"] is None else round(row["probe_ms_"]),
        }
        for row in rows
    }
    return [_bucket(hour, found.get(hour)) for hour in window]


# ----------------------------------------------------------------------------------------------------- tenant stats

# name -> fn(*, tenant, user) -> the figure, of what the user may see of the tenant (the source restricts).
_stat_sources: dict[str, Callable] = {}


def tenant_stat_source_register(name: str, source: Callable) -> None:
    """An app above metrics adds a figure to `tenant_stats` (vms: "guests", console: "consoles_open")."""
    _stat_sources[name] = source


def _servers_seen(tenant, user) -> QuerySet:
    return ProxmoxServer.objects.restrict(user, roles.VIEW_SERVER).filter(tenant=tenant, is_active=True)


def tenant_stats(*, tenant, user) -> dict:
    """The dashboard's figures of one tenant, for what `user` may see of it:

    servers: {"online", "degraded", "offline", "unknown": counts of the active servers they see whole},
    guests: {"qemu": {"running", "stopped"}, "lxc": {...}, "servers_counted", "servers_not_cached"} from the guest
    lists vms has cached (never asking Proxmox: a server whose list is not cached is counted as not cached),
    success_rate (0-100 or None) and avg_response_ms (None without successes) of their health checks in the last
    24 hours, consoles_open (sessions open now on the servers they see).
    """
    servers = list(_servers_seen(tenant, user))
    statuses = dict.fromkeys(ConnectionStatus.values, 0)
    for server in servers:
        statuses[server.connection_status] += 1
    since = hour_start(timezone.now()) - timedelta(hours=23)
    day = HourlyRollup.objects.filter(server__in=[server.pk for server in servers], hour__gte=since).aggregate(
        checks=Sum("checks"), successes=Sum("successes"), sum_ms=Sum("sum_ms")
    )
    checks, successes = day["checks"] or 0, day["successes"] or 0
    stats = {
        "servers": statuses,
        "success_rate": round(100.0 * successes / checks, 1) if checks else None,
        "avg_response_ms": round(day["sum_ms"] / successes) if successes else None,
    }
    for name, source in _stat_sources.items():
        stats[name] = source(tenant=tenant, user=user)
    return stats
