"""Demo data: two tenants, their users and servers, pointed at a running Proxmox simulator; a user with an
authenticator app, and a local identity provider for single sign-on."""

import base64

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from guardian.shortcuts import remove_perm

from accounts.models import GroupMapping, OidcProvider
from servers.models import ProxmoxServer, TLSMode
from servers.pvesim import Simulator
from tenants import roles
from tenants.models import Membership, Tenant
from vms.services import guest_grant_set

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
    ("carol", "viewer of Acme Hosting; logs in with a TOTP code too (secret below)", "acme", roles.Role.VIEWER),
    ("dave", "admin of Northwind School", "northwind", roles.Role.ADMIN),
    ("erin", "customer: her guests on acme-pve-2 (web-02, db-01: console and power; dns-ct: view)", None, None),
]
# erin's own guests on acme-pve-2: vmid, console, power.
ERIN_GUESTS = [(101, True, True), (102, True, True), (200, False, False)]


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
    erin = User.objects.get(username="erin")
    # She once held the whole server's console (older demos): now single guests only.
    remove_perm(roles.OPEN_CONSOLE, erin, customer_server)
    for vmid, console, power in ERIN_GUESTS:
        guest_grant_set(user=erin, server=customer_server, vmid=vmid, console=console, power=power)
    return [(username, description) for username, description, _, _ in USERS]


# ------------------------------------------------------------------------------- two-factor and single sign-on

# carol logs in with a second factor: this TOTP secret (base32) in any authenticator app gives her codes.
DEMO_TOTP_USER = "carol"
DEMO_TOTP_SECRET = "NEXUSDEMONEXUSDEMONEXUSDEMO23456"
# The demo's identity provider (nexus/idp.mjs): its people log in with this password; their groups map to tenants.
DEMO_SSO_SLUG = "demo-sso"
DEMO_SSO_PEOPLE = [
    ("frank", "frank@acme.example", ["acme-it"], ["pwd"], "manager of Acme Hosting through the group acme-it"),
    ("grace", "grace@northwind.example", ["northwind-staff"], ["pwd", "otp"], "viewer of Northwind; the IdP did 2FA"),
]
DEMO_SSO_GROUPS = [("acme-it", "acme", roles.Role.MANAGER), ("northwind-staff", "northwind", roles.Role.VIEWER)]


@transaction.atomic
def demo_two_factor_seed() -> str:
    """carol's authenticator app, with the known secret; returns it for the introduction."""
    user = get_user_model().objects.get(username=DEMO_TOTP_USER)
    key = base64.b32decode(DEMO_TOTP_SECRET).hex()
    TOTPDevice.objects.update_or_create(
        user=user, name="Demo authenticator", defaults={"key": key, "confirmed": True, "last_t": -1}
    )
    return DEMO_TOTP_SECRET


def demo_idp_config(*, issuer: str, portal_urls: list[str], client_secret: str) -> dict:
    """The configuration of nexus/idp.mjs for the demo: the portal as its one client, and its people."""
    return {
        "port": int(issuer.rsplit(":", 1)[1]),
        "issuer": issuer,
        "clients": [
            {
                "client_id": "nexus-demo",
                "client_secret": client_secret,
                "redirect_uris": [f"{url}/accounts/sso/{DEMO_SSO_SLUG}/callback/" for url in portal_urls],
                "post_logout_redirect_uris": [f"{url}/accounts/login/" for url in portal_urls],
            }
        ],
        "accounts": {
            name: {
                "password": DEMO_PASSWORD,
                "amr": amr,
                "claims": {
                    "email": email,
                    "email_verified": True,
                    "preferred_username": name,
                    "name": name.title(),
                    "groups": groups,
                },
            }
            for name, email, groups, amr, _ in DEMO_SSO_PEOPLE
        },
        "tamper": None,
    }


@transaction.atomic
def demo_sso_seed(*, issuer: str, client_secret: str) -> list[tuple[str, str]]:
    """The demo identity provider as an OpenID Connect provider of the portal, with its group mappings."""
    provider = OidcProvider.objects.filter(slug=DEMO_SSO_SLUG).first() or OidcProvider(slug=DEMO_SSO_SLUG)
    provider.name = "Demo SSO"
    provider.issuer = issuer
    provider.client_id = "nexus-demo"
    provider.client_secret = client_secret
    provider.scopes = "openid email profile groups"
    provider.create_users = True
    provider.is_active = True
    provider.save()
    for group, slug, role in DEMO_SSO_GROUPS:
        GroupMapping.objects.update_or_create(
            provider=provider, group=group, tenant=Tenant.objects.get(slug=slug), defaults={"role": role}
        )
    return [(name, description) for name, _, _, _, description in DEMO_SSO_PEOPLE]
