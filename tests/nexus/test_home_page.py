"""The home page: the user's servers grouped under their tenants."""

from django.urls import reverse
from guardian.shortcuts import assign_perm

from tenants import roles
from tenants.models import Membership, Tenant
from tenants.roles import Role
from tests.conftest import make_server
from vms.services import guest_grant_set


def home(client, user) -> str:
    """The page's main content (the header's tenant switcher names tenants too)."""
    client.force_login(user)
    return client.get(reverse("portal:home")).content.decode().split('<main id="main"', 1)[1]


def test_a_member_of_several_tenants_sees_each_tenants_servers_under_its_name(client, admin_a, server_a, server_b):
    Membership.objects.create(user=admin_a, tenant=server_b.tenant, role=Role.VIEWER)
    html = home(client, admin_a)
    assert html.index("Tenant A") < html.index("pve-a") < html.index("Tenant B") < html.index("pve-b")
    assert html.count("<table") == 2  # one table per tenant


def test_a_tenant_without_servers_says_so(client, admin_a):
    assert "No servers in Tenant A yet." in home(client, admin_a)


def test_a_single_server_grant_shows_under_that_servers_tenant(client, outsider, server_a):
    assign_perm(roles.OPEN_CONSOLE, outsider, server_a)
    html = home(client, outsider)
    assert "Tenant A" in html and "pve-a" in html
    assert "not a member of any tenant" not in html


def test_someone_without_tenants_sees_the_empty_state(client, outsider, server_a):
    html = home(client, outsider)
    assert "You are not a member of any tenant yet" in html
    assert "pve-a" not in html


def test_the_platform_admin_sees_every_tenant_once(client, platform_admin, server_a, server_b, tenant_a):
    make_server(tenant_a, "pve-a2")
    Tenant.objects.create(name="Empty Co", slug="empty-co")
    html = home(client, platform_admin)
    for name in ("Tenant A", "Tenant B", "Empty Co"):
        assert html.count(f'<span class="tenant-name" title="{name}">{name}</span>') == 1
    assert html.index("pve-a") < html.index("pve-a2") < html.index("Tenant B")


def test_an_inactive_server_is_listed_as_inactive_not_with_a_health_it_no_longer_has(client, viewer_a, tenant_a):
    make_server(tenant_a, "asleep", is_active=False, connection_status="online")
    html = home(client, viewer_a)
    assert '<span class="badge warning">inactive</span>' in html and "Online" not in html


def test_a_single_guest_holder_sees_the_servers_name_but_not_its_address(client, outsider, server_a, viewer_a):
    guest_grant_set(user=outsider, server=server_a, vmid=100)
    html = home(client, outsider)
    assert "Tenant A" in html and "pve-a" in html and "pve.example.com" not in html
    assert "pve.example.com" not in home(client, viewer_a)
