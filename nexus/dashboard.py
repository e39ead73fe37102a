"""Reads of the portal home: a tenant's dashboard for one user, through the choke point (tenants.access, and the
apps' selectors that ask it)."""

import json
from dataclasses import dataclass

from metrics.selectors import HourBucket, server_hourly_buckets, tenant_hourly_buckets, tenant_stats
from servers.models import ProxmoxServer
from tenants import access, roles
from tenants.models import Tenant
from vms.selectors import servers_with_guests_for_user

CHART_HOURS = 24


def chart_data(buckets: list[HourBucket]) -> str | None:
    """A server's hourly success rate and response time as static/js/charts.js draws them; None without checks."""
    if not any(bucket.checks for bucket in buckets):
        return None
    return json.dumps(
        {
            "x": [int(bucket.hour.timestamp()) for bucket in buckets],
            "series": [
                {
                    "label": "Checks passed",
                    "unit": "%",
                    "tone": "success",
                    "values": [bucket.success_rate for bucket in buckets],
                },
                {
                    "label": "Response time",
                    "unit": " ms",
                    "tone": "primary",
                    "values": [bucket.avg_ms for bucket in buckets],
                },
            ],
        }
    )


@dataclass(frozen=True)
class ServerHealth:
    server: ProxmoxServer
    whole: bool  # the user sees the whole server (its health and chart), not only guests granted on it alone
    chart: str | None  # charts.js data, None without checks in the last CHART_HOURS


@dataclass(frozen=True)
class Dashboard:
    tenant: Tenant
    stats: dict  # metrics.selectors.tenant_stats
    servers: list[ServerHealth]
    chart: str | None  # all the servers seen whole as one, where there are several (with checks)
    may_add_servers: bool
    manages_consoles: bool

    @property
    def guests_only(self) -> bool:
        """The user reaches the tenant through single guests alone."""
        return bool(self.servers) and not any(health.whole for health in self.servers)


def tenant_dashboard(*, tenant: Tenant, user) -> Dashboard:
    """The dashboard of a tenant the user reaches: its figures, and each server they see with its 24-hour chart."""
    servers = list(servers_with_guests_for_user(user).filter(tenant=tenant).order_by("name"))
    scopes = access.scopes(user, servers, parts=False)
    whole = [server.pk for server in servers if scopes[server.pk].sees_every_part]
    buckets = server_hourly_buckets(server_ids=whole, hours=CHART_HOURS)
    together = tenant_hourly_buckets(tenant=tenant, user=user, hours=CHART_HOURS) if len(whole) > 1 else []
    return Dashboard(
        tenant=tenant,
        stats=tenant_stats(tenant=tenant, user=user),
        servers=[
            ServerHealth(server, server.pk in buckets, chart_data(buckets[server.pk]) if server.pk in buckets else None)
            for server in servers
        ],
        chart=chart_data(together),
        may_add_servers=access.can(user, roles.ADD_SERVER, tenant),
        manages_consoles=access.can(user, roles.MANAGE_CONSOLES, tenant),
    )
