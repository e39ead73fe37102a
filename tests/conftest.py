"""Fixture users named by what they are, and the tenants they belong to.

platform_admin            superuser: manages everything
admin_a, manager_a, viewer_a   roles in tenant A
admin_b                   admin of tenant B
outsider                  an account with no tenant
"""

import secrets

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from console.models import ConsoleSession
from servers.models import ProxmoxServer
from tenants.models import Membership, Tenant
from tenants.roles import Role

pytest_plugins = ["tests.fixtures_pvesim"]

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """The test process connects without the connection pool (DATABASE_POOL_SIZE): tests' async ORM calls leave a
    connection checked out in asgiref's thread, which a pool keeps open past the test database's teardown. The
    cluster tests' web processes use it."""
    from django.conf import settings

    settings.DATABASES["default"].get("OPTIONS", {}).pop("pool", None)


@pytest.fixture(autouse=True)
def own_cache(settings, request):
    """Each test counts its rate limits afresh (a cache of its own: clearing a Redis cache would flush the
    database the channel layer and Celery share)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }


@pytest.fixture(autouse=True)
def call_metrics_written_when_asked(settings):
    """Call metrics wait in a per-process buffer: no timer thread writing into another test's database, and
    nothing left over for the next test, nor for the flush at exit (after the test database is gone)."""
    from metrics.recorder import metrics_discard

    settings.METRICS_FLUSH_SECONDS = 0
    metrics_discard()
    yield
    metrics_discard()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The real hasher costs a third of a second per user; tests create many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(username: str, **extra):
    return get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD, **extra)


def make_server(tenant: Tenant, name: str, **fields) -> ProxmoxServer:
    secret = fields.pop("token_secret", "11111111-2222-3333-4444-555555555555")
    server = ProxmoxServer(
        tenant=tenant,
        name=name,
        host=fields.pop("host", "pve.example.com"),
        token_id=fields.pop("token_id", "nexus@pve!broker"),
        fingerprint=fields.pop("fingerprint", ":".join(["AB"] * 32)),
        **fields,
    )
    server.token_secret = secret
    server.save()
    return server


def make_console_session(user, server: ProxmoxServer, **fields) -> ConsoleSession:
    """A console session of guest 100 as the API would record it, without going through a token."""
    fields.setdefault("token_expires_at", timezone.now())
    return ConsoleSession.objects.create(
        user=user,
        tenant=server.tenant,
        server=server,
        node="pve1",
        guest_type="qemu",
        vmid=100,
        token_hash=secrets.token_hex(32),
        **fields,
    )


@pytest.fixture
def tenant_a(db):
    return Tenant.objects.create(name="Tenant A", slug="tenant-a")


@pytest.fixture
def tenant_b(db):
    return Tenant.objects.create(name="Tenant B", slug="tenant-b")


@pytest.fixture
def server_a(tenant_a):
    return make_server(tenant_a, "pve-a")


@pytest.fixture
def server_b(tenant_b):
    return make_server(tenant_b, "pve-b")


@pytest.fixture
def platform_admin(db):
    return get_user_model().objects.create_superuser("platform-admin", "root@example.com", PASSWORD)


def _member(username, tenant, role):
    user = make_user(username)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def admin_a(tenant_a):
    return _member("admin-a", tenant_a, Role.ADMIN)


@pytest.fixture
def manager_a(tenant_a):
    return _member("manager-a", tenant_a, Role.MANAGER)


@pytest.fixture
def viewer_a(tenant_a):
    return _member("viewer-a", tenant_a, Role.VIEWER)


@pytest.fixture
def admin_b(tenant_b):
    return _member("admin-b", tenant_b, Role.ADMIN)


@pytest.fixture
def outsider(db):
    return make_user("outsider")


@pytest.fixture
def sim_server(tenant_a, pve):
    """Tenant A's server, pointed at the simulator with a pinned fingerprint and a full-privilege token."""
    return make_server(tenant_a, "pve-sim", **pve.connection_settings())
