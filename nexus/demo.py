"""Demo data: two tenants, their users and servers, pointed at a running Proxmox simulator."""

from django.contrib.auth import get_user_model
from django.db import transaction
from guardian.shortcuts import assign_perm

from servers.models import ProxmoxServer, TLSMode
from servers.pvesim import Simulator
from tenants import roles
from tenants.models import Membership, Tenant

DEMO_PASSWORD = "nexus-demo"
# Three simulated servers are the tenants'; one more is no tenant's, for a newcomer to add through the portal.
SIMULATED_SERVERS = 4
# Nothing listens on the discard port of loopback: the refused connection shows the failure paths.
UNREACHABLE_PORT = 9

TENANTS = [
    ("acme", "Acme Hosting", "A hosting company's customer servers."),
    ("northwind", "Northwind School", "The school's lab cluster."),
]
# username, what they are, tenant slug, role (None: no role)
USERS = [
    ("operator", "platform admin (Django admin)", None, None),
    ("alice", "admin of Acme Hosting", "acme", roles.Role.ADMIN),
    ("bob", "manager of Acme Hosting", "acme", roles.Role.MANAGER),
    ("carol", "viewer of Acme Hosting", "acme", roles.Role.VIEWER),
    ("dave", "admin of Northwind School", "northwind", roles.Role.ADMIN),
    ("erin", "customer: console of acme-pve-2 only", None, None),
]


def _server(tenant: Tenant, name: str, **fields) -> ProxmoxServer:
    secret = fields.pop("token_secret")
    server = ProxmoxServer.objects.filter(tenant=tenant, name=name).first() or ProxmoxServer(tenant=tenant, name=name)
    for field, value in fields.items():
        setattr(server, field, value)
    server.token_secret = secret
    server.full_clean()
    server.save()
    return server


def demo_spare_server(simulator: Simulator):
    """The simulated server no tenant has: add it in the portal (Manage servers > Add server)."""
    return simulator.servers[3]


@transaction.atomic
def demo_seed(*, simulator: Simulator) -> list[tuple[str, str]]:
    """Create or refresh the demo; returns (username, description) of each demo user."""
    tenants = {
        slug: Tenant.objects.update_or_create(slug=slug, defaults={"name": name, "description": description})[0]
        for slug, name, description in TENANTS
    }
    acme, northwind = tenants["acme"], tenants["northwind"]
    first, second, third = simulator.servers[:3]
    _server(acme, "acme-pve-1", **first.connection_settings())
    customer_server = _server(acme, "acme-pve-2", **second.connection_settings())
    _server(
        acme,
        "acme-offsite",
        host="127.0.0.1",
        port=UNREACHABLE_PORT,
        token_id=first.token_id,
        token_secret="unreachable",
        tls_mode=TLSMode.FINGERPRINT,
        fingerprint=first.fingerprint,
    )
    _server(northwind, "school-pve", **third.connection_settings())

    User = get_user_model()
    for username, _, slug, role in USERS:
        user = User.objects.filter(username=username).first() or User(username=username)
        user.is_staff = user.is_superuser = username == "operator"
        user.set_password(DEMO_PASSWORD)
        user.save()
        if role:
            Membership.objects.update_or_create(user=user, tenant=tenants[slug], defaults={"role": role})
    assign_perm(roles.OPEN_CONSOLE, User.objects.get(username="erin"), customer_server)
    return [(username, description) for username, description, _, _ in USERS]
