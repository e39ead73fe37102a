"""What each tenant role may do, as Django permission names on the tenant and its servers.

A role grants its permissions on the whole tenant: every server in it. Single
servers can additionally be granted to a user with django-guardian
(`assign_perm("servers.open_console", user, server)`), which is how a customer
gets the console of their own servers and nothing else. Permissions are plain
names here: this module, like all of `tenants`, imports no other app.
"""

from django.db import models

VIEW_TENANT = "tenants.view_tenant"
CHANGE_TENANT = "tenants.change_tenant"
VIEW_MEMBERS = "tenants.view_members"
MANAGE_MEMBERS = "tenants.manage_members"
VIEW_AUDIT = "tenants.view_audit"
MANAGE_CONSOLES = "tenants.manage_consoles"

VIEW_SERVER = "servers.view_proxmoxserver"
ADD_SERVER = "servers.add_proxmoxserver"
CHANGE_SERVER = "servers.change_proxmoxserver"
DELETE_SERVER = "servers.delete_proxmoxserver"
POWER_GUESTS = "servers.power_guests"
OPEN_CONSOLE = "servers.open_console"
EXPLORE_API = "servers.explore_api"
READ_NODE_LOGS = "servers.read_node_logs"

# Permissions that can be granted on one object (a server); any of them lets the user see that object.
GRANTABLE = frozenset({VIEW_SERVER, POWER_GUESTS, OPEN_CONSOLE})

# The power actions a tenant may allow its members (Proxmox's own; servers.proxmox checks they stay the same).
POWER_ACTIONS = ("start", "stop", "shutdown", "reset", "reboot", "suspend", "resume")


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Viewer"


_VIEWER = frozenset({VIEW_TENANT, VIEW_SERVER})
_MANAGER = _VIEWER | {
    VIEW_MEMBERS,
    ADD_SERVER,
    CHANGE_SERVER,
    DELETE_SERVER,
    POWER_GUESTS,
    OPEN_CONSOLE,
    EXPLORE_API,
}
# Node logs may name other tenants' guests on a shared host: tenant admins only.
_ADMIN = _MANAGER | {CHANGE_TENANT, MANAGE_MEMBERS, VIEW_AUDIT, MANAGE_CONSOLES, READ_NODE_LOGS}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.VIEWER: _VIEWER,
    Role.MANAGER: _MANAGER,
    Role.ADMIN: _ADMIN,
}


ALL_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values())


def roles_with(perm: str) -> list[str]:
    return [role for role, perms in ROLE_PERMISSIONS.items() if perm in perms]
