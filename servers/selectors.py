"""Reads of servers, always for a user and always through the choke point (tenants.access)."""

from django.db.models import QuerySet

from tenants import access, roles

from .models import ProxmoxServer


def servers_for_user(user, perm: str = roles.VIEW_SERVER) -> QuerySet:
    """The servers on which the user holds `perm`, with their tenant."""
    return ProxmoxServer.objects.restrict(user, perm).select_related("tenant")


def server_for_user(user, server_id, perm: str | None = None) -> ProxmoxServer:
    """One server: 404 unless the user may see it, 403 when they may see it but not do `perm`."""
    return access.get_object_for_user(ProxmoxServer.objects.select_related("tenant"), user, perm, pk=server_id)
