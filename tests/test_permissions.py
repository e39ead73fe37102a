"""Generic permission tests for every API endpoint and page (NetBox style).

Each route is listed once with what each kind of user gets. Outsiders and other
tenants get 404 (never a hint that the object exists), read-only users 403 for
actions, anonymous callers are refused (pages send them to the login). A
meta-test fails when a route is added without a row here; the console WebSocket
route has its own refusal tests in tests/console/test_consumer.py.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from console.services import console_session_request

ANONYMOUS = "anonymous"
USERS = [ANONYMOUS, "outsider", "admin_b", "viewer_a", "manager_a", "admin_a", "platform_admin"]


def expect(anonymous=403, outsider=404, admin_b=404, viewer_a=200, manager_a=200, admin_a=200, platform_admin=200):
    return dict(zip(USERS, [anonymous, outsider, admin_b, viewer_a, manager_a, admin_a, platform_admin]))


SESSION_ADMINS_ONLY = dict(viewer_a=404, manager_a=404)

# route name -> (method, url args from the objects, expected status per user)
ENDPOINTS = {
    "api:api-root": ("get", lambda o: [], expect(outsider=200, admin_b=200)),
    "api:server-list": ("get", lambda o: [], expect(outsider=200, admin_b=200)),
    "api:server-detail": ("get", lambda o: [o["server"].pk], expect()),
    "api:guest-list": ("get", lambda o: [o["server"].pk], expect()),
    "api:guest-detail": ("get", lambda o: [o["server"].pk, 100], expect()),
    "api:guest-console": (
        "post",
        lambda o: [o["server"].pk, 100],
        expect(viewer_a=403, manager_a=201, admin_a=201, platform_admin=201),
    ),
    "api:console-session-list": ("get", lambda o: [], expect(outsider=200, admin_b=200)),
    "api:console-session-detail": ("get", lambda o: [o["session"].pk], expect(**SESSION_ADMINS_ONLY)),
    "api:console-session-terminate": (
        "post",
        lambda o: [o["session"].pk],
        expect(admin_a=202, platform_admin=202, **SESSION_ADMINS_ONLY),
    ),
    "portal:home": ("get", lambda o: [], expect(anonymous=302, outsider=200, admin_b=200)),
    "vms:server": ("get", lambda o: [o["server"].pk], expect(anonymous=302)),
    "console:page": ("get", lambda o: [o["server"].pk, 100], expect(anonymous=302, viewer_a=403)),
    # Everyone logged in gets the page; who administers no tenant sees it empty.
    "console:sessions": ("get", lambda o: [], expect(anonymous=302, outsider=200, admin_b=200)),
    "console:session-terminate": (
        "post",
        lambda o: [o["session"].pk],
        expect(anonymous=302, admin_a=302, platform_admin=302, **SESSION_ADMINS_ONLY),
    ),
}
CHECKED_NAMESPACES = ("api:", "portal:", "console:")


@pytest.fixture
def objects(sim_server, manager_a):
    ticket = console_session_request(user=manager_a, server=sim_server, vmid=100, client_ip=None)
    return {"server": sim_server, "session": ticket.session}


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("route", sorted(ENDPOINTS))
def test_each_endpoint_answers_each_user_as_it_should(request, client, objects, route, user):
    for fixture in ("outsider", "admin_b", "viewer_a", "admin_a", "platform_admin"):
        request.getfixturevalue(fixture)  # everyone exists, whoever is calling
    if user != ANONYMOUS:
        client.force_login(request.getfixturevalue(user))
    method, args, expected = ENDPOINTS[route]
    response = getattr(client, method)(reverse(route, args=args(objects)))
    assert response.status_code == expected[user], response.content[:300]


@pytest.mark.parametrize(
    "route, user, visible",
    [
        ("api:server-list", "admin_b", False),
        ("api:server-list", "outsider", False),
        ("api:server-list", "viewer_a", True),
        ("api:console-session-list", "admin_b", False),
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


def _route_names(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from _route_names(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern) and prefix in CHECKED_NAMESPACES and pattern.name:
            yield prefix + pattern.name


def test_every_route_has_permission_tests():
    routes = set(_route_names(get_resolver().url_patterns))
    assert {name.split(":")[0] + ":" for name in routes} == set(CHECKED_NAMESPACES)
    assert routes - set(ENDPOINTS) == set(), "add these routes to ENDPOINTS"


def test_every_websocket_route_has_refusal_tests():
    from console.routing import websocket_urlpatterns

    # tests/console/test_consumer.py covers this route for anonymous, other tenants, each role and bad tokens.
    assert [route.pattern.regex.pattern for route in websocket_urlpatterns] == [
        r"^ws/console/(?P<token>[A-Za-z0-9_-]{20,100})/$"
    ]
