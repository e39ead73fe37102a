"""The Django admin is the operators' tool: it loads for them and for nobody else."""

import pytest
from django.urls import reverse

ADMIN_PAGES = [
    "admin:index",
    "admin:tenants_tenant_changelist",
    "admin:tenants_tenant_add",
    "admin:tenants_membership_changelist",
    "admin:servers_proxmoxserver_changelist",
    "admin:servers_proxmoxserver_add",
    "admin:metrics_connectionmetric_changelist",
    "admin:audit_auditevent_changelist",
    "admin:auth_user_changelist",
    "admin:auditlog_logentry_changelist",
    "admin:console_consolesession_changelist",
]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_load_for_the_platform_admin(client, platform_admin, server_a, page):
    client.force_login(platform_admin)
    assert client.get(reverse(page) + "?q=pve").status_code == 200


def test_object_pages_load_for_the_platform_admin(client, platform_admin, server_a, admin_a):
    client.force_login(platform_admin)
    for url in [
        reverse("admin:servers_proxmoxserver_change", args=[server_a.pk]),
        reverse("admin:servers_proxmoxserver_permissions", args=[server_a.pk]),
        reverse("admin:tenants_tenant_change", args=[server_a.tenant_id]),
        reverse("admin:auth_user_change", args=[admin_a.pk]),
    ]:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("user", ["admin_a", "manager_a", "viewer_a", "outsider"])
def test_admin_is_refused_to_everyone_else(request, client, user):
    client.force_login(request.getfixturevalue(user))
    response = client.get(reverse("admin:servers_proxmoxserver_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
