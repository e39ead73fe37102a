"""The choke point: each fixture user sees and may do exactly what their role or grants say."""

import pytest
from guardian.shortcuts import assign_perm

from servers.models import ProxmoxServer
from tenants import access, roles
from tenants.access import can
from tenants.models import Membership, Tenant
from tests.conftest import make_server
from vms.services import guest_grant_set


@pytest.fixture
def both_servers(server_a, server_b):
    return server_a, server_b


def visible_servers(user):
    return set(ProxmoxServer.objects.restrict(user, roles.VIEW_SERVER))


def servers_for_user(user, perm):
    return ProxmoxServer.objects.restrict(user, perm)


def tenants_for_user(user, perm):
    return Tenant.objects.restrict(user, perm)


def test_platform_admin_sees_every_tenant_and_server(platform_admin, both_servers):
    assert visible_servers(platform_admin) == set(both_servers)
    assert set(Tenant.objects.restrict(platform_admin, roles.MANAGE_MEMBERS)) == set(Tenant.objects.all())


@pytest.mark.parametrize("member", ["admin_a", "manager_a", "viewer_a"])
def test_members_of_tenant_a_see_only_tenant_a(request, member, both_servers):
    user = request.getfixturevalue(member)
    server_a, _ = both_servers
    assert visible_servers(user) == {server_a}
    assert [t.slug for t in Tenant.objects.restrict(user, roles.VIEW_TENANT)] == ["tenant-a"]


def test_admin_of_tenant_b_never_sees_tenant_a(admin_b, both_servers):
    _, server_b = both_servers
    assert visible_servers(admin_b) == {server_b}
    assert not can(admin_b, roles.VIEW_SERVER, both_servers[0])


def test_a_user_without_a_tenant_sees_nothing(outsider, both_servers):
    assert visible_servers(outsider) == set()
    assert not tenants_for_user(outsider, roles.VIEW_TENANT).exists()


def test_anonymous_sees_nothing(both_servers):
    from django.contrib.auth.models import AnonymousUser

    assert not servers_for_user(AnonymousUser(), roles.VIEW_SERVER).exists()
    assert not can(AnonymousUser(), roles.VIEW_SERVER, both_servers[0])


@pytest.mark.parametrize(
    "member, perm, allowed",
    [
        ("viewer_a", roles.VIEW_SERVER, True),
        ("viewer_a", roles.POWER_GUESTS, False),
        ("viewer_a", roles.OPEN_CONSOLE, False),
        ("manager_a", roles.POWER_GUESTS, True),
        ("manager_a", roles.OPEN_CONSOLE, True),
        ("manager_a", roles.CHANGE_SERVER, True),
        ("admin_a", roles.DELETE_SERVER, True),
    ],
)
def test_roles_decide_what_members_may_do_with_servers(request, server_a, member, perm, allowed):
    user = request.getfixturevalue(member)
    assert can(user, perm, server_a) is allowed
    assert (server_a in servers_for_user(user, perm)) is allowed


@pytest.mark.parametrize(
    "member, perm, allowed",
    [
        ("viewer_a", roles.VIEW_MEMBERS, False),
        ("manager_a", roles.VIEW_MEMBERS, True),
        ("manager_a", roles.MANAGE_MEMBERS, False),
        ("manager_a", roles.CHANGE_TENANT, False),
        ("admin_a", roles.MANAGE_MEMBERS, True),
        ("admin_a", roles.CHANGE_TENANT, True),
        ("admin_a", roles.VIEW_AUDIT, True),
    ],
)
def test_roles_decide_what_members_may_do_with_the_tenant(request, tenant_a, member, perm, allowed):
    user = request.getfixturevalue(member)
    assert can(user, perm, tenant_a) is allowed
    assert (tenant_a in tenants_for_user(user, perm)) is allowed


def test_a_single_server_grant_shows_that_server_only(outsider, tenant_a, server_a):
    other = make_server(tenant_a, "pve-a2")
    assign_perm(roles.OPEN_CONSOLE, outsider, server_a)
    assert visible_servers(outsider) == {server_a}
    assert can(outsider, roles.OPEN_CONSOLE, server_a)
    assert can(outsider, roles.VIEW_SERVER, server_a)
    assert not can(outsider, roles.POWER_GUESTS, server_a)
    assert not can(outsider, roles.OPEN_CONSOLE, other)
    assert not can(outsider, roles.VIEW_TENANT, tenant_a)
    assert list(servers_for_user(outsider, roles.POWER_GUESTS)) == []


def test_a_single_server_grant_adds_to_a_role(viewer_a, server_a):
    assign_perm(roles.POWER_GUESTS, viewer_a, server_a)
    assert can(viewer_a, roles.POWER_GUESTS, server_a)
    assert not can(viewer_a, roles.OPEN_CONSOLE, server_a)


def test_an_inactive_tenant_hides_everything_from_its_members(manager_a, tenant_a, server_a, outsider):
    assign_perm(roles.OPEN_CONSOLE, outsider, server_a)
    tenant_a.is_active = False
    tenant_a.save()
    for user in (manager_a, outsider):
        assert visible_servers(user) == set()
        assert not can(user, roles.OPEN_CONSOLE, server_a)


def test_an_inactive_user_sees_nothing(manager_a, server_a):
    manager_a.is_active = False
    manager_a.save()
    assert visible_servers(manager_a) == set()


def test_losing_the_membership_loses_access_at_once(manager_a, tenant_a, server_a):
    Membership.objects.filter(user=manager_a).delete()
    assert not can(manager_a, roles.OPEN_CONSOLE, server_a)
    assert visible_servers(manager_a) == set()


def test_changing_the_role_changes_the_permissions(manager_a, server_a):
    Membership.objects.filter(user=manager_a).update(role="viewer")
    assert not can(manager_a, roles.POWER_GUESTS, server_a)
    assert can(manager_a, roles.VIEW_SERVER, server_a)


def test_the_queryset_can_be_narrowed_first(manager_a, server_a, server_b):
    narrowed = ProxmoxServer.objects.filter(name__startswith="pve").restrict(manager_a, roles.VIEW_SERVER)
    assert list(narrowed) == [server_a]


# ------------------------------------------------------------------------------------ single parts: guests granted


@pytest.fixture
def customer(outsider, server_a):
    guest_grant_set(user=outsider, server=server_a, vmid=100, console=True)
    guest_grant_set(user=outsider, server=server_a, vmid=101, power=True)
    return outsider


def test_a_guest_grant_reaches_the_server_only_through_its_parts(customer, server_a, server_b):
    assert visible_servers(customer) == set()
    assert set(ProxmoxServer.objects.restrict(customer, roles.VIEW_SERVER, parts=True)) == {server_a}
    assert set(ProxmoxServer.objects.restrict(customer, roles.OPEN_CONSOLE, parts=True)) == {server_a}
    assert set(ProxmoxServer.objects.restrict(customer, roles.CHANGE_SERVER, parts=True)) == set()
    assert access.permissions(customer, server_a) == frozenset()


def test_a_scope_gives_each_granted_part_what_its_grant_says(customer, server_a):
    scope = access.scope(customer, server_a)
    assert not scope.sees_every_part
    assert scope.of(100) == {roles.VIEW_SERVER, roles.OPEN_CONSOLE}
    assert scope.of(101) == {roles.VIEW_SERVER, roles.POWER_GUESTS}
    assert scope.of(102) == frozenset() and not scope.sees(102)


def test_a_role_sees_every_part_and_a_part_grant_adds_to_it(viewer_a, server_a):
    guest_grant_set(user=viewer_a, server=server_a, vmid=100, power=True)
    scope = access.scope(viewer_a, server_a)
    assert scope.sees_every_part and scope.sees(4242)
    assert roles.POWER_GUESTS in scope.of(100) and roles.POWER_GUESTS not in scope.of(101)


def test_a_guest_grant_reaches_its_tenant_and_an_inactive_tenant_hides_it(customer, tenant_a, server_a):
    assert [tenant.slug for tenant in access.reachable(Tenant.objects.all(), customer)] == ["tenant-a"]
    tenant_a.is_active = False
    tenant_a.save()
    assert list(access.reachable(Tenant.objects.all(), customer)) == []
    assert access.scope(customer, server_a).of(100) == frozenset()


def test_scopes_cost_the_same_queries_for_one_server_or_many(
    customer, tenant_a, server_a, django_assert_max_num_queries
):
    servers = [server_a, *(make_server(tenant_a, f"pve-{index}") for index in range(20))]
    for server in servers:
        server.tenant  # noqa: B018 (selected with the servers in real use)
    with django_assert_max_num_queries(4):
        scopes = access.scopes(customer, servers)
    assert scopes[server_a.pk].sees(100) and not scopes[servers[1].pk].sees(100)
