"""Reads across the apps, for the pages nexus draws on top of them."""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import Count

from console.selectors import console_sessions_for_user
from servers.models import ConnectionStatus
from servers.selectors import servers_for_user
from tenants import access, roles
from tenants.models import Tenant
from vms.selectors import guest_counts


@dataclass
class TenantOverview:
    tenant: Tenant
    servers: list = field(default_factory=list)
    guests: int = 0
    servers_without_answer: int = 0  # active servers whose guests could not be counted
    open_consoles: int = 0

    @property
    def online(self) -> int:
        online = ConnectionStatus.ONLINE
        return sum(1 for server in self.servers if server.is_active and server.connection_status == online)


def platform_overview(user) -> list[TenantOverview]:
    """Every tenant with its servers, guests, members and open consoles, for platform admins; 403 for anyone else.
    Guests are counted from each server's listing (cached a few seconds), asked of all servers at once."""
    if not access.is_platform_admin(user):
        raise PermissionDenied("Only platform admins see the whole platform.")
    tenants = Tenant.objects.restrict(user, roles.VIEW_TENANT).annotate(member_count=Count("memberships"))
    overview = {tenant.pk: TenantOverview(tenant) for tenant in tenants.order_by("name")}
    servers = list(servers_for_user(user).order_by("name"))
    counts = guest_counts(servers)
    for server in servers:
        row = overview[server.tenant_id]
        row.servers.append(server)
        if server.pk in counts:
            if counts[server.pk] is None:
                row.servers_without_answer += 1
            else:
                row.guests += counts[server.pk]
    consoles = console_sessions_for_user(user).open().order_by().values_list("tenant_id").annotate(Count("pk"))
    for tenant_id, count in consoles:
        overview[tenant_id].open_consoles = count
    return list(overview.values())
