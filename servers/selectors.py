"""Reads of servers, always for a user and always through the choke point (tenants.access)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet

from tenants import access, roles
from tenants.models import Tenant

from . import proxmox
from .models import ProxmoxServer


def servers_for_user(user, perm: str = roles.VIEW_SERVER) -> QuerySet:
    """The servers on which the user holds `perm`, with their tenant."""
    return ProxmoxServer.objects.restrict(user, perm).select_related("tenant")


def server_for_user(user, server_id, perm: str | None = None) -> ProxmoxServer:
    """One server: 404 unless the user may see it, 403 when they may see it but not do `perm`."""
    return access.get_object_for_user(ProxmoxServer.objects.select_related("tenant"), user, perm, pk=server_id)


def servers_of_tenant(user, tenant: Tenant, perm: str = roles.CHANGE_SERVER) -> QuerySet:
    """The servers of one tenant on which the user holds `perm`, by name."""
    return servers_for_user(user, perm).filter(tenant=tenant).order_by("name")


def tenants_for_new_servers(user) -> QuerySet:
    """The tenants the user may add servers to."""
    return Tenant.objects.restrict(user, roles.ADD_SERVER).order_by("name")


def tenant_for_new_server(user, slug: str | None) -> Tenant:
    """The tenant a new server goes to: the one `slug` names (404 unless the user sees it, 403 unless they may
    add servers to it), else the only one they may add servers to."""
    if slug:
        if not isinstance(slug, str):
            raise ValidationError({"tenant": ["Name the tenant by its slug."]})
        return access.get_object_for_user(Tenant.objects.all(), user, roles.ADD_SERVER, slug=slug)
    choices = list(tenants_for_new_servers(user)[:2])
    if not choices:
        raise PermissionDenied("You may not add servers to any tenant.")
    if len(choices) > 1:
        raise ValidationError({"tenant": ["Choose the tenant to add the server to (its slug)."]})
    return choices[0]


def server_api_tree(*, user, server: ProxmoxServer) -> list[dict]:
    """The explorer's tree of Proxmox API paths: every readable GET endpoint of the schema under its parent, with
    its description; node logs say whether this user may read them."""
    logs = access.can(user, roles.READ_NODE_LOGS, server)
    nodes: dict[str, dict] = {}
    roots: list[dict] = []
    for endpoint in proxmox.get_endpoints():
        if endpoint.refused_because:
            continue
        node = {
            "path": endpoint.path,
            "description": endpoint.description,
            "readable": logs or not endpoint.node_log,
            "children": [],
        }
        nodes[endpoint.path] = node
        parent = _parent(endpoint.path, nodes)
        node["label"] = endpoint.path[len(parent["path"]) + 1 :] if parent else endpoint.path
        (parent["children"] if parent else roots).append(node)
    return roots


def _parent(path: str, nodes: dict[str, dict]) -> dict | None:
    while "/" in path.strip("/"):
        path = path.rsplit("/", 1)[0]
        if path in nodes:
            return nodes[path]
    return None
