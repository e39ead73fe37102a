"""The tenants a user works in, and the one they work in now."""

from django.test import RequestFactory
from guardian.shortcuts import assign_perm

from tenants import roles
from tenants.models import Membership
from tenants.selectors import CURRENT_TENANT, tenant_current, tenants_reachable


def request_for(user, session=None, **params):
    request = RequestFactory().get("/", params)
    request.user, request.session = user, session or {}
    return request


def test_a_member_reaches_their_tenants_and_no_others(admin_a, tenant_b):
    assert [tenant.slug for tenant in tenants_reachable(admin_a)] == ["tenant-a"]


def test_a_grant_on_one_server_reaches_that_servers_tenant(outsider, server_a, server_b):
    assert list(tenants_reachable(outsider)) == []
    assign_perm(roles.OPEN_CONSOLE, outsider, server_a)
    assert [tenant.slug for tenant in tenants_reachable(outsider)] == ["tenant-a"]


def test_an_inactive_tenant_is_reached_by_nobody_but_platform_admins(admin_a, tenant_a, platform_admin):
    tenant_a.is_active = False
    tenant_a.save()
    assert list(tenants_reachable(admin_a)) == []
    assert tenant_a in tenants_reachable(platform_admin)


def test_the_current_tenant_is_the_named_then_the_remembered_then_the_first(admin_a, tenant_a, tenant_b):
    Membership.objects.create(user=admin_a, tenant=tenant_b, role=roles.Role.VIEWER)
    assert tenant_current(request_for(admin_a)) == tenant_a
    assert tenant_current(request_for(admin_a, {CURRENT_TENANT: "tenant-b"})) == tenant_b
    assert tenant_current(request_for(admin_a, {CURRENT_TENANT: "tenant-b"}, tenant="tenant-a")) == tenant_a


def test_a_tenant_the_user_does_not_reach_is_never_current(admin_a, tenant_a, tenant_b):
    assert tenant_current(request_for(admin_a, {CURRENT_TENANT: "tenant-b"}, tenant="tenant-b")) == tenant_a


def test_a_user_of_no_tenant_has_none(outsider):
    assert tenant_current(request_for(outsider)) is None
