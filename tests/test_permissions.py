"""Generic permission tests for every route, HTTP and WebSocket (NetBox style).

Each route has one row: for each HTTP method it takes, what each kind of user gets. Outsiders and other
tenants get 404 (never a hint that the object exists), read-only users 403 for actions, anonymous callers are
refused: the API answers 401 (with WWW-Authenticate, so a script knows to log in), pages send them to the login.
Methods a route does not take are refused for everyone. Meta-tests
walk the whole URL resolver and the ASGI WebSocket router and fail for a route without a row.

The callers:
    anonymous                  no session
    inactive_user              manager of tenant A whose account was deactivated: as anonymous
    outsider                   an account with no tenant
    admin_of_inactive_tenant   admin of tenant A while tenant A is deactivated: as an outsider
    admin_b                    admin of the other tenant
    grantee                    no role; may open consoles on tenant A's server (a single-server grant)
    guest_grantee              no role; console and power on guest 100 of tenant A's server only (a single-guest
                               grant): as an outsider wherever a row does not say otherwise
    viewer_a, manager_a, admin_a   the roles in tenant A
    platform_admin             superuser
"""

import asgiref.sync
import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.db import connections
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm

from accounts.models import GroupMapping, OidcProvider
from accounts.services import api_token_create
from console.services import WEBSOCKET_PATH, console_session_request
from servers.proxmox import ProxmoxClient
from tenants import roles
from tenants.models import Membership, Tenant
from tenants.roles import Role
from tests.conftest import make_user
from vms.services import guest_grant_set

USERS = [
    "anonymous",
    "inactive_user",
    "outsider",
    "admin_of_inactive_tenant",
    "admin_b",
    "grantee",
    "guest_grantee",
    "viewer_a",
    "manager_a",
    "admin_a",
    "platform_admin",
]
METHODS = ["get", "post", "put", "patch", "delete"]
GUEST = 100


def expect(
    *,
    anonymous=401,
    outsider=404,
    admin_b=404,
    grantee=200,
    viewer_a=200,
    manager_a=200,
    admin_a=200,
    platform_admin=200,
    inactive_user=None,
    admin_of_inactive_tenant=None,
    guest_grantee=None,
):
    """What each caller gets. A deactivated account is anonymous; a member of a deactivated tenant an outsider, and
    so is who holds single guests (unless the row says otherwise)."""
    return {
        "anonymous": anonymous,
        "inactive_user": anonymous if inactive_user is None else inactive_user,
        "outsider": outsider,
        "admin_of_inactive_tenant": outsider if admin_of_inactive_tenant is None else admin_of_inactive_tenant,
        "admin_b": admin_b,
        "grantee": grantee,
        "guest_grantee": outsider if guest_grantee is None else guest_grantee,
        "viewer_a": viewer_a,
        "manager_a": manager_a,
        "admin_a": admin_a,
        "platform_admin": platform_admin,
    }


def everyone(status):
    return dict.fromkeys(USERS, status)


EVERYONE_LOGGED_IN = {"outsider": 200, "admin_b": 200}
SESSION_MANAGERS_ONLY = {"grantee": 404, "viewer_a": 404, "manager_a": 404}
CONSOLE_OPENERS = {
    "viewer_a": 403,
    "grantee": 201,
    "guest_grantee": 201,
    "manager_a": 201,
    "admin_a": 201,
    "platform_admin": 201,
}
# Who may power guest 100: the power API refuses a request without an action with 409, after the permission's 403.
POWER_USERS = {"grantee": 403, "viewer_a": 403, "guest_grantee": 409, "manager_a": 409, "admin_a": 409}
# Who sees guest 100: its server's tenant, its server's grantee, and who holds the guest alone.
GUEST_SEERS = {"guest_grantee": 200}
LOGGED_IN_REDIRECTED = dict.fromkeys(USERS[2:], 302)
PLATFORM_ADMINS_ONLY = dict.fromkeys(["outsider", "admin_b", "grantee", "viewer_a", "manager_a", "admin_a"], 403)
# Who sees a tenant (its members; a single-server grant does not show the tenant), who reads its members and
# grants (admins, managers), who changes them and its settings (admins).
TENANT_MEMBERS = {"grantee": 404}
MEMBER_READERS = {"grantee": 404, "viewer_a": 403}
TENANT_ADMINS = {"grantee": 404, "viewer_a": 403, "manager_a": 403}
# The manager's own token: only they see or revoke it.
TOKEN_OWNER_ONLY = {"grantee": 404, "viewer_a": 404, "admin_a": 404, "platform_admin": 404}
# Adding servers (an empty body is invalid input): for those who may add servers to a tenant. A platform admin must
# name one of the tenants.
SERVER_ADDERS = {"outsider": 403, "admin_b": 400, "grantee": 403, "viewer_a": 403}
SERVER_ADDERS.update(dict.fromkeys(["manager_a", "admin_a", "platform_admin"], 400))
# What changes a server, or reads its Proxmox API: its tenant's managers and admins, and platform admins.
SERVER_CHANGERS = {"grantee": 403, "viewer_a": 403}
# The server pages of the tenant one works in: someone else's tenant is theirs to manage (admin_b), one reached
# through a single grant is not (grantee, guest_grantee).
TENANT_SERVER_PAGES = {"anonymous": 302, "admin_b": 200, "grantee": 403, "guest_grantee": 403, "viewer_a": 403}

LOGGED_IN_400 = dict.fromkeys(USERS[2:], 400)
# Someone else's two-factor device: nobody but its owner finds it.
NOBODY_ELSES = dict.fromkeys(USERS[2:], 404)
# route (namespace:name, or the pattern of an unnamed route) -> (url args from the objects, {method: expected})
ROUTES = {
    "login": (
        lambda o: [],
        {"get": {**everyone(200), **LOGGED_IN_REDIRECTED}, "post": {**everyone(200), **LOGGED_IN_REDIRECTED}},
    ),
    "logout": (lambda o: [], {"post": everyone(302)}),
    # The schema and its docs need a login: they map every endpoint, and nobody without an account needs that.
    "api-schema": (lambda o: [], {"get": expect(**EVERYONE_LOGGED_IN)}),
    "api-docs": (lambda o: [], {"get": expect(anonymous=302, **EVERYONE_LOGGED_IN)}),
    "api:api-root": (lambda o: [], {"get": expect(**EVERYONE_LOGGED_IN)}),
    "api:server-list": (lambda o: [], {"get": expect(**EVERYONE_LOGGED_IN), "post": expect(**SERVER_ADDERS)}),
    "api:server-detail": (
        lambda o: [o["server"].pk],
        {
            "get": expect(),
            "put": expect(manager_a=400, admin_a=400, platform_admin=400, **SERVER_CHANGERS),
            "patch": expect(**SERVER_CHANGERS),
            "delete": expect(manager_a=204, admin_a=204, platform_admin=204, **SERVER_CHANGERS),
        },
    ),
    "api:server-test": (lambda o: [], {"post": expect(**SERVER_ADDERS)}),
    "api:server-import": (lambda o: [], {"post": expect(**SERVER_ADDERS)}),
    "api:server-connection-test": (lambda o: [o["server"].pk], {"post": expect(**SERVER_CHANGERS)}),
    "api:server-fingerprint": (
        lambda o: [o["server"].pk],
        {
            "get": expect(**SERVER_CHANGERS),
            "post": expect(manager_a=400, admin_a=400, platform_admin=400, **SERVER_CHANGERS),
        },
    ),
    "api:server-proxmox": (lambda o: [o["server"].pk, "version"], {"get": expect(**SERVER_CHANGERS)}),
    "api:server-proxmox-tree": (lambda o: [o["server"].pk], {"get": expect(**SERVER_CHANGERS)}),
    "api:server-metrics": (lambda o: [o["server"].pk], {"get": expect()}),
    "api:tenant-stats": (lambda o: [o["tenant"]], {"get": expect(**TENANT_MEMBERS)}),
    "api:guests": (lambda o: [], {"get": expect(**EVERYONE_LOGGED_IN)}),
    "api:guest-list": (lambda o: [o["server"].pk], {"get": expect(**GUEST_SEERS)}),
    "api:guest-detail": (lambda o: [o["server"].pk, GUEST], {"get": expect(**GUEST_SEERS)}),
    "api:guest-power": (lambda o: [o["server"].pk, GUEST], {"post": expect(platform_admin=409, **POWER_USERS)}),
    "api:task-detail": (lambda o: [o["server"].pk, o["upid"]], {"get": expect(**GUEST_SEERS)}),
    "api:guest-console": (lambda o: [o["server"].pk, GUEST], {"post": expect(**CONSOLE_OPENERS)}),
    "api:console-session-list": (lambda o: [], {"get": expect(**EVERYONE_LOGGED_IN)}),
    "api:console-session-detail": (lambda o: [o["session"].pk], {"get": expect(**SESSION_MANAGERS_ONLY)}),
    "api:console-session-terminate": (
        lambda o: [o["session"].pk],
        {"post": expect(admin_a=202, platform_admin=202, **SESSION_MANAGERS_ONLY)},
    ),
    # Without a tenant named in the form there is nothing to switch to.
    "tenants:switch": (
        lambda o: [],
        {"post": expect(anonymous=302, grantee=404, viewer_a=404, manager_a=404, admin_a=404, platform_admin=404)},
    ),
    # Platform admins start on the Platform page.
    "portal:home": (lambda o: [], {"get": expect(anonymous=302, **EVERYONE_LOGGED_IN, platform_admin=302)}),
    # A part of a tenant's dashboard (live updates fetch it again): for who reaches the tenant.
    "portal:dashboard-part": (lambda o: [o["tenant"], "stats"], {"get": expect(anonymous=302, guest_grantee=200)}),
    "portal:operators": (lambda o: [], {"get": expect(anonymous=302, **PLATFORM_ADMINS_ONLY)}),
    "servers:list": (lambda o: [], {"get": expect(**TENANT_SERVER_PAGES)}),
    # An empty form is drawn again with its errors (200).
    "servers:add": (lambda o: [], {"get": expect(**TENANT_SERVER_PAGES), "post": expect(**TENANT_SERVER_PAGES)}),
    "servers:import": (lambda o: [], {"get": expect(**TENANT_SERVER_PAGES), "post": expect(**TENANT_SERVER_PAGES)}),
    "servers:import-template": (lambda o: [], {"get": expect(anonymous=302, **EVERYONE_LOGGED_IN)}),
    "servers:edit": (
        lambda o: [o["server"].pk],
        {"get": expect(anonymous=302, **SERVER_CHANGERS), "post": expect(anonymous=302, **SERVER_CHANGERS)},
    ),
    "servers:delete": (
        lambda o: [o["server"].pk],
        {"post": expect(anonymous=302, manager_a=302, admin_a=302, platform_admin=302, **SERVER_CHANGERS)},
    ),
    "servers:certificate": (
        lambda o: [o["server"].pk],
        {"get": expect(anonymous=302, **SERVER_CHANGERS), "post": expect(anonymous=302, **SERVER_CHANGERS)},
    ),
    "servers:explore": (lambda o: [o["server"].pk], {"get": expect(anonymous=302, **SERVER_CHANGERS)}),
    "vms:guests": (lambda o: [], {"get": expect(anonymous=302, **EVERYONE_LOGGED_IN)}),
    "vms:server": (lambda o: [o["server"].pk], {"get": expect(anonymous=302, **GUEST_SEERS)}),
    # Without JavaScript a quick action goes back to the page, with the refusal or the task as a message.
    "vms:guest-power": (
        lambda o: [o["server"].pk, GUEST],
        {"post": expect(anonymous=302, **dict.fromkeys(USERS[5:], 302))},
    ),
    "vms:task": (lambda o: [o["server"].pk, o["upid"]], {"get": expect(anonymous=302, **GUEST_SEERS)}),
    "console:page": (lambda o: [o["server"].pk, GUEST], {"get": expect(anonymous=302, viewer_a=403, **GUEST_SEERS)}),
    # Everyone logged in gets the page; who administers no tenant sees it empty.
    "console:sessions": (lambda o: [], {"get": expect(anonymous=302, grantee=200, **EVERYONE_LOGGED_IN)}),
    "console:session-terminate": (
        lambda o: [o["session"].pk],
        {"post": expect(anonymous=302, admin_a=302, platform_admin=302, **SESSION_MANAGERS_ONLY)},
    ),
    "favicon": (lambda o: [], {"get": everyone(302)}),
    # Accounts: tokens and the password are everyone's own; reset works without a login; users are the operators'.
    "accounts:tokens": (
        lambda o: [],
        {"get": expect(anonymous=302, **EVERYONE_LOGGED_IN), "post": expect(anonymous=302, **EVERYONE_LOGGED_IN)},
    ),
    "accounts:token-revoke": (
        lambda o: [o["token"].pk],
        {"post": expect(anonymous=302, manager_a=302, **{**TOKEN_OWNER_ONLY, "platform_admin": 404})},
    ),
    "accounts:password-change": (
        lambda o: [],
        {"get": expect(anonymous=302, **EVERYONE_LOGGED_IN), "post": expect(anonymous=302, **EVERYONE_LOGGED_IN)},
    ),
    "accounts:password-reset": (lambda o: [], {"get": everyone(200), "post": everyone(200)}),
    "accounts:password-reset-sent": (lambda o: [], {"get": everyone(200)}),
    # A link that is no (longer a) valid one: the page says so, to anyone.
    "accounts:password-reset-confirm": (
        lambda o: ["MQ", "set-password"],
        {"get": everyone(200), "post": everyone(200)},
    ),
    "accounts:password-reset-done": (lambda o: [], {"get": everyone(200)}),
    "accounts:users": (lambda o: [], {"get": expect(anonymous=302, **PLATFORM_ADMINS_ONLY)}),
    "accounts:user-delete": (
        lambda o: [o["doomed"].pk],
        {"post": expect(anonymous=302, platform_admin=302, **PLATFORM_ADMINS_ONLY)},
    ),
    # Two-factor authentication: the second step (nobody is between the steps here: back to the login), passkey
    # logins (a passkey alone may log in, so anyone may begin; completing needs a begun ceremony), and the
    # devices, everyone's own (the device of the rows is another account's).
    "accounts:login-verify": (lambda o: [], {"get": everyone(302), "post": everyone(302)}),
    "accounts:passkey-login-begin": (lambda o: [], {"post": everyone(200)}),
    "accounts:passkey-login-complete": (lambda o: [], {"post": everyone(400)}),
    "accounts:security": (lambda o: [], {"get": expect(anonymous=302, **EVERYONE_LOGGED_IN)}),
    # A POST without a code shows the form again with its error.
    "accounts:totp-enrol": (
        lambda o: [],
        {"get": expect(anonymous=302, **EVERYONE_LOGGED_IN), "post": expect(anonymous=302, **LOGGED_IN_400)},
    ),
    # Nobody here has an authenticator: recovery codes are refused with a message.
    "accounts:recovery-codes": (lambda o: [], {"post": {**everyone(302)}}),
    "accounts:passkey-register-begin": (lambda o: [], {"post": expect(anonymous=403, **EVERYONE_LOGGED_IN)}),
    "accounts:passkey-register-complete": (lambda o: [], {"post": expect(anonymous=403, **LOGGED_IN_400)}),
    "accounts:passkey-i18n": (lambda o: [], {"get": everyone(200)}),
    "accounts:device-rename": (lambda o: ["totp", o["device"].pk], {"post": expect(anonymous=302, **NOBODY_ELSES)}),
    "accounts:device-remove": (lambda o: ["totp", o["device"].pk], {"post": expect(anonymous=302, **NOBODY_ELSES)}),
    "accounts:user-two-factor-reset": (
        lambda o: [o["doomed"].pk],
        {"post": expect(anonymous=302, platform_admin=302, **PLATFORM_ADMINS_ONLY)},
    ),
    "api:user-reset-two-factor": (
        lambda o: [o["doomed"].pk],
        {"post": expect(**PLATFORM_ADMINS_ONLY)},
    ),
    # Single sign-on: the provider of the rows is down, so both steps go back to the login with the error.
    "accounts:sso-login": (lambda o: [o["provider"].slug], {"get": everyone(302)}),
    "accounts:sso-callback": (lambda o: [o["provider"].slug], {"get": everyone(302)}),
    "accounts:sso-groups": (lambda o: [o["tenant"]], {"get": expect(anonymous=302, **TENANT_ADMINS)}),
    "accounts:sso-group-add": (
        lambda o: [o["tenant"]],
        {"post": expect(anonymous=302, admin_a=302, platform_admin=302, **TENANT_ADMINS)},
    ),
    "accounts:sso-group-remove": (
        lambda o: [o["tenant"], o["mapping"].pk],
        {"post": expect(anonymous=302, admin_a=302, platform_admin=302, **TENANT_ADMINS)},
    ),
    # Tenants: pages.
    "tenants:members": (lambda o: [o["tenant"]], {"get": expect(anonymous=302, **MEMBER_READERS)}),
    # An empty form changes nothing: back to the members page with the errors.
    "tenants:member-add": (
        lambda o: [o["tenant"]],
        {"post": expect(anonymous=302, admin_a=302, platform_admin=302, **TENANT_ADMINS)},
    ),
    "tenants:member-role": (
        lambda o: [o["tenant"], o["member"].pk],
        {"post": expect(anonymous=302, admin_a=302, platform_admin=302, **TENANT_ADMINS)},
    ),
    "tenants:member-remove": (
        lambda o: [o["tenant"], o["member"].pk],
        {"post": expect(anonymous=302, admin_a=302, platform_admin=302, **TENANT_ADMINS)},
    ),
    "tenants:grant-add": (
        lambda o: [o["tenant"]],
        {"post": expect(anonymous=302, admin_a=302, platform_admin=302, **TENANT_ADMINS)},
    ),
    "tenants:grant-revoke": (
        lambda o: [o["tenant"], o["grant"]],
        {"post": expect(anonymous=302, admin_a=302, platform_admin=302, **TENANT_ADMINS)},
    ),
    "tenants:settings": (
        lambda o: [o["tenant"]],
        {
            "get": expect(anonymous=302, **TENANT_ADMINS),
            "post": expect(anonymous=302, admin_a=400, platform_admin=400, **TENANT_ADMINS),
        },
    ),
    # Everyone logged in gets the page; who administers no tenant sees it empty.
    "tenants:audit": (lambda o: [], {"get": expect(anonymous=302, **EVERYONE_LOGGED_IN)}),
    # Tenants: the API. An empty body is invalid where fields are required, and changes nothing where not.
    "api:tenant-list": (
        lambda o: [],
        {
            "get": expect(**EVERYONE_LOGGED_IN),
            "post": expect(platform_admin=400, **{**PLATFORM_ADMINS_ONLY, "grantee": 403}),
        },
    ),
    "api:tenant-detail": (
        lambda o: [o["tenant"]],
        {
            "get": expect(**TENANT_MEMBERS),
            "put": expect(admin_a=400, platform_admin=400, **TENANT_ADMINS),
            "patch": expect(**TENANT_ADMINS),
            # Tenant A still has its server: deleting it is refused until the servers are gone.
            "delete": expect(platform_admin=409, **{**TENANT_ADMINS, "admin_a": 403}),
        },
    ),
    "api:tenant-settings": (
        lambda o: [o["tenant"]],
        {
            "get": expect(**TENANT_MEMBERS),
            "put": expect(admin_a=400, platform_admin=400, **TENANT_ADMINS),
            "patch": expect(**TENANT_ADMINS),
        },
    ),
    "api:member-list": (
        lambda o: [o["tenant"]],
        {"get": expect(**MEMBER_READERS), "post": expect(admin_a=400, platform_admin=400, **TENANT_ADMINS)},
    ),
    "api:member-detail": (
        lambda o: [o["tenant"], o["member"].pk],
        {
            "get": expect(**MEMBER_READERS),
            "put": expect(admin_a=400, platform_admin=400, **TENANT_ADMINS),
            "patch": expect(admin_a=400, platform_admin=400, **TENANT_ADMINS),
            "delete": expect(admin_a=204, platform_admin=204, **TENANT_ADMINS),
        },
    ),
    "api:grant-list": (
        lambda o: [o["tenant"]],
        {"get": expect(**MEMBER_READERS), "post": expect(admin_a=400, platform_admin=400, **TENANT_ADMINS)},
    ),
    "api:grant-detail": (
        lambda o: [o["tenant"], o["grant"]],
        {"get": expect(**MEMBER_READERS), "delete": expect(admin_a=204, platform_admin=204, **TENANT_ADMINS)},
    ),
    "api:audit-list": (lambda o: [], {"get": expect(**EVERYONE_LOGGED_IN)}),
    "api:audit-export": (lambda o: [], {"get": expect(**EVERYONE_LOGGED_IN)}),
    "api:token-list": (
        lambda o: [],
        {"get": expect(**EVERYONE_LOGGED_IN), "post": expect(**dict.fromkeys(USERS[2:], 400))},
    ),
    "api:token-detail": (lambda o: [o["token"].pk], {"delete": expect(manager_a=204, **TOKEN_OWNER_ONLY)}),
    "api:user-list": (lambda o: [], {"get": expect(**PLATFORM_ADMINS_ONLY)}),
    "api:user-detail": (
        lambda o: [o["doomed"].pk],
        {"get": expect(**PLATFORM_ADMINS_ONLY), "delete": expect(platform_admin=204, **PLATFORM_ADMINS_ONLY)},
    ),
    # The design system's live components: platform admins; everyone else goes to the admin's login.
    "design": (lambda o: [], {"get": {**everyone(302), "platform_admin": 200}}),
}
# The Django admin is for platform admins only: test_the_admin_is_for_platform_admins_only covers all of it.
ADMIN_PREFIX = "admin/"


@pytest.fixture
def grantee(sim_server):
    user = make_user("grantee")
    assign_perm(roles.OPEN_CONSOLE, user, sim_server)
    return user


@pytest.fixture
def guest_grantee(sim_server):
    user = make_user("guest-grantee")
    guest_grant_set(user=user, server=sim_server, vmid=GUEST, console=True, power=True)
    return user


@pytest.fixture
def admin_of_inactive_tenant(tenant_a):
    user = make_user("suspended-admin")
    Membership.objects.create(user=user, tenant=tenant_a, role=Role.ADMIN)
    return user


@pytest.fixture
def inactive_user(tenant_a):
    user = make_user("deactivated", is_active=False)
    Membership.objects.create(user=user, tenant=tenant_a, role=Role.MANAGER)
    return user


@pytest.fixture
def objects(sim_server, manager_a):
    ticket = console_session_request(user=manager_a, server=sim_server, vmid=GUEST, client_ip=None)
    token, _ = api_token_create(user=manager_a, name="script", expires_at=None, client_ip=None)
    member = Membership.objects.create(user=make_user("member"), tenant=sim_server.tenant, role=Role.VIEWER)
    customer = make_user("customer")
    assign_perm(roles.VIEW_SERVER, customer, sim_server)
    grant = f"server-{UserObjectPermission.objects.get(user=customer).pk}"
    doomed = make_user("doomed")
    device = TOTPDevice.objects.create(user=doomed, name="phone")
    # Nothing listens on the discard port of loopback: the provider is down.
    provider = OidcProvider(name="Down", slug="down", issuer="http://127.0.0.1:9", client_id="nexus")
    provider.client_secret = "secret"
    provider.save()
    mapping = GroupMapping.objects.create(provider=provider, group="staff", tenant=sim_server.tenant, role=Role.VIEWER)
    with ProxmoxClient(sim_server.connection()) as proxmox:
        upid = proxmox.power("pve1", "qemu", GUEST, "reboot")
    return {
        "device": device,
        "provider": provider,
        "mapping": mapping,
        "server": sim_server,
        "session": ticket.session,
        "token": token,
        "doomed": doomed,
        "tenant": sim_server.tenant.slug,
        "member": member,
        "grant": grant,
        "upid": upid,
    }


@pytest.fixture
def caller(request, objects):
    """Every user exists, whoever calls; returns the caller (None for anonymous), its tenant deactivated if so."""
    users = {name: request.getfixturevalue(name) for name in USERS if name != "anonymous"}
    if request.param == "admin_of_inactive_tenant":
        Tenant.objects.filter(slug="tenant-a").update(is_active=False)
    return users.get(request.param)


def call(client, user, method, url):
    if user is not None:
        client.force_login(user)
    return getattr(client, method)(url)


ROWS = [(route, method) for route, (_, methods) in sorted(ROUTES.items()) for method in methods]


@pytest.mark.parametrize("caller", USERS, indirect=True)
@pytest.mark.parametrize("route, method", ROWS)
def test_each_route_answers_each_caller_as_it_should(request, client, objects, caller, route, method):
    args, methods = ROUTES[route]
    response = call(client, caller, method, reverse(route, args=args(objects)))
    expected = methods[method][request.node.callspec.params["caller"]]
    assert response.status_code == expected, response.content[:300]


@pytest.mark.parametrize("caller", USERS, indirect=True)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_methods_a_route_does_not_take_are_refused(request, client, objects, caller, route):
    args, methods = ROUTES[route]
    url = reverse(route, args=args(objects))
    name = request.node.callspec.params["caller"]
    # Whoever may use the route learns that the method is wrong; the others are refused as for its own methods.
    refusals = {expected[name] for expected in methods.values() if not 200 <= expected[name] < 300}
    for method in set(METHODS) - set(methods):
        status = call(client, caller, method, url).status_code
        assert status == 405 or status in refusals, (method, status)


@pytest.mark.parametrize(
    "route, user, visible",
    [
        ("api:server-list", "admin_b", False),
        ("api:server-list", "outsider", False),
        ("api:server-list", "viewer_a", True),
        ("api:server-list", "grantee", True),
        ("api:server-list", "guest_grantee", False),
        ("api:console-session-list", "admin_b", False),
        ("api:console-session-list", "grantee", False),
        ("api:console-session-list", "admin_a", True),
    ],
)
def test_lists_show_only_what_the_user_may_see(request, client, objects, route, user, visible):
    client.force_login(request.getfixturevalue(user))
    ids = [item["id"] for item in client.get(reverse(route)).json()["results"]]
    obj = objects["server"] if route == "api:server-list" else objects["session"]
    assert (obj.pk in ids) is visible


def test_the_session_list_filters_by_tenant(client, objects, platform_admin):
    client.force_login(platform_admin)
    assert client.get(reverse("api:console-session-list"), {"tenant": "tenant-a"}).json()["count"] == 1
    assert client.get(reverse("api:console-session-list"), {"tenant": "tenant-b"}).json()["count"] == 0


def test_the_server_api_never_returns_the_token(client, objects, admin_a):
    client.force_login(admin_a)
    body = client.get(reverse("api:server-detail", args=[objects["server"].pk])).content.decode()
    server = objects["server"]
    assert server.token_secret not in body
    assert server.token_secret_encrypted not in body
    assert "token_secret" not in body


@pytest.mark.parametrize("user", ["outsider", "admin_a", "grantee", "platform_admin"])
def test_the_admin_is_for_platform_admins_only(request, client, user):
    client.force_login(request.getfixturevalue(user))
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    for url in urls:
        response = client.get(url)
        if user == "platform_admin":
            assert response.status_code == 200, url
        else:
            assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), url


def _routes(resolver, prefix="", namespace=""):
    """(key, pattern) of every route: `namespace:name` where it has a name, its full pattern where not."""
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _routes(pattern, route, inner)
        else:
            yield (f"{namespace}{pattern.name}" if pattern.name else route), route


def test_every_route_has_a_row():
    routes = {key for key, pattern in _routes(get_resolver()) if not pattern.startswith(ADMIN_PREFIX)}
    assert routes - set(ROUTES) == set(), "add these routes to ROUTES"
    assert set(ROUTES) - routes == set(), "these rows name no route"


# -------------------------------------------------------------------- answered before routing (nexus.health)

# For balancers and Prometheus, whatever the login: alive and ready for everyone (no detail), the metrics for nobody
# without their token or network (tests/nexus/test_telemetry.py).
EARLY_ENDPOINTS = {
    "/healthz": everyone(200),
    "/readyz": everyone(200),
    "/metrics": everyone(404),
}


@pytest.mark.parametrize("caller", USERS, indirect=True)
@pytest.mark.parametrize("path", sorted(EARLY_ENDPOINTS))
def test_endpoints_before_routing_answer_each_caller_as_they_should(request, client, objects, caller, path):
    response = call(client, caller, "get", path)
    assert response.status_code == EARLY_ENDPOINTS[path][request.node.callspec.params["caller"]]


# ------------------------------------------------------------------------------------------------------ WebSockets


def _websocket_routes(app):
    """The patterns of every route of the ASGI WebSocket router, through whatever middleware wraps it."""
    while not isinstance(app, URLRouter):
        app = app.inner
    return [route.pattern.regex.pattern for route in app.routes]


def console_connection(user, objects):
    """The console WebSocket with a token of the caller's own where they may have one; the manager's otherwise."""
    owner = (
        user
        if user is not None and user.username in ("grantee", "guest-grantee", "manager-a", "admin-a", "platform-admin")
        else None
    )
    ticket = console_session_request(
        user=owner or objects["session"].user, server=objects["server"], vmid=GUEST, client_ip=None
    )
    return WEBSOCKET_PATH, ticket.websocket_protocols


WEBSOCKET_ROUTES = {
    # Whatever no route takes: refused before the handshake, for everyone.
    "": (lambda user, objects: ("/ws/nothing/", ["binary"]), everyone(False)),
    r"^ws/console/$": (
        console_connection,
        {
            **everyone(False),
            "grantee": True,
            "guest_grantee": True,
            "manager_a": True,
            "admin_a": True,
            "platform_admin": True,
        },
    ),
    # A tenant's live events: who reaches the tenant (members, and who holds a server or a guest of it alone).
    r"^ws/tenants/(?P<slug>[-a-zA-Z0-9_]{1,100})/events/$": (
        lambda user, objects: (f"/ws/tenants/{objects['tenant']}/events/", ["binary"]),
        {
            **everyone(False),
            "grantee": True,
            "guest_grantee": True,
            "viewer_a": True,
            "manager_a": True,
            "admin_a": True,
            "platform_admin": True,
        },
    ),
}


def test_every_websocket_route_has_a_row():
    from nexus.asgi import application

    assert set(_websocket_routes(application.application_mapping["websocket"])) == set(WEBSOCKET_ROUTES)


@pytest.fixture
async def release_connections():
    """Async ORM calls run in asgiref's sync thread; its connection must not outlive the test database."""
    yield
    await asgiref.sync.sync_to_async(connections.close_all)()


def _cookie(user) -> list[tuple[bytes, bytes]]:
    if user is None:
        return []
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("caller", USERS, indirect=True)
@pytest.mark.parametrize("route", sorted(WEBSOCKET_ROUTES))
async def test_each_websocket_route_lets_in_only_who_it_should(request, objects, caller, route, release_connections):
    from nexus.asgi import application

    make_connection, expected = WEBSOCKET_ROUTES[route]
    path, subprotocols = await database_sync_to_async(make_connection)(caller, objects)
    headers = [
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
        *await database_sync_to_async(_cookie)(caller),
    ]
    communicator = WebsocketCommunicator(application, path, headers=headers, subprotocols=subprotocols)
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    assert connected is expected[request.node.callspec.params["caller"]]
