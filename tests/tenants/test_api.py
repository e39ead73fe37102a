"""The tenants API: tenants and their settings, members, grants."""

import pytest
from django.urls import reverse

from tenants.models import Membership, Tenant

pytestmark = pytest.mark.django_db


def test_members_are_listed_added_changed_and_removed(client, tenant_a, admin_a, viewer_a, outsider):
    client.force_login(admin_a)
    url = reverse("api:member-list", args=["tenant-a"])
    assert [member["username"] for member in client.get(url).json()] == ["admin-a", "viewer-a"]
    added = client.post(url, {"user": "outsider", "role": "manager"})
    assert added.status_code == 201 and added.json()["role"] == "manager"
    detail = reverse("api:member-detail", args=["tenant-a", added.json()["id"]])
    assert client.patch(detail, {"role": "viewer"}, content_type="application/json").json()["role"] == "viewer"
    assert client.delete(detail).status_code == 204
    assert not Membership.objects.filter(user=outsider).exists()


def test_the_api_refuses_to_demote_the_last_admin(client, tenant_a, admin_a):
    client.force_login(admin_a)
    membership = Membership.objects.get(user=admin_a)
    detail = reverse("api:member-detail", args=["tenant-a", membership.pk])
    response = client.patch(detail, {"role": "viewer"}, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "last_admin"


def test_a_member_of_another_tenant_is_not_found_here(client, tenant_a, admin_a, admin_b):
    client.force_login(admin_a)
    other = Membership.objects.get(user=admin_b)
    assert client.get(reverse("api:member-detail", args=["tenant-a", other.pk])).status_code == 404


def test_an_invitation_through_the_api(client, tenant_a, admin_a, mailoutbox):
    client.force_login(admin_a)
    response = client.post(reverse("api:member-list", args=["tenant-a"]), {"user": "jo@example.com"})
    assert response.status_code == 201 and response.json()["invited"] is True
    assert response.json()["role"] == "viewer"
    assert "http://testserver/accounts/reset/" in mailoutbox[0].body


def test_grants_are_given_and_taken_back(client, tenant_a, server_a, admin_a, outsider):
    client.force_login(admin_a)
    url = reverse("api:grant-list", args=["tenant-a"])
    given = client.post(url, {"user": "outsider", "object_id": server_a.pk, "permission": "console"})
    assert given.status_code == 201, given.content
    assert given.json() | {"id": 0} == {
        "id": 0,
        "user": "outsider",
        "username": "outsider",
        "kind": "server",
        "object_id": str(server_a.pk),
        "object_name": "pve-a",
        "permission": "console",
    }
    assert len(client.get(url).json()) == 1
    assert client.delete(reverse("api:grant-detail", args=["tenant-a", given.json()["id"]])).status_code == 204
    assert client.get(url).json() == []


def test_a_single_guest_is_granted_and_taken_back(client, tenant_a, server_a, admin_a, outsider):
    client.force_login(admin_a)
    url = reverse("api:grant-list", args=["tenant-a"])
    guest = f"{server_a.pk}/100"
    given = client.post(url, {"user": "outsider", "kind": "guest", "object_id": guest, "permission": "console"})
    assert given.status_code == 201, given.content
    assert given.json() | {"id": ""} == {
        "id": "",
        "user": "outsider",
        "username": "outsider",
        "kind": "guest",
        "object_id": guest,
        "object_name": "pve-a/100",
        "permission": "console",
    }
    assert client.get(reverse("api:grant-detail", args=["tenant-a", given.json()["id"]])).json() == given.json()
    bad = client.post(url, {"user": "outsider", "kind": "guest", "object_id": server_a.pk, "permission": "view"})
    assert bad.status_code == 400
    assert client.delete(reverse("api:grant-detail", args=["tenant-a", given.json()["id"]])).status_code == 204
    assert client.get(url).json() == []


def test_tenant_admins_change_settings_but_not_the_server_limit(client, tenant_a, admin_a):
    client.force_login(admin_a)
    url = reverse("api:tenant-settings", args=["tenant-a"])
    changed = {"console_idle_timeout": 300, "allowed_power_actions": ["start", "shutdown"]}
    assert client.patch(url, changed, content_type="application/json").status_code == 200
    tenant_a.refresh_from_db()
    assert (tenant_a.console_idle_timeout, tenant_a.allowed_power_actions) == (300, ["start", "shutdown"])
    assert client.patch(url, {"max_servers": 400}, content_type="application/json").status_code == 403
    bad = client.patch(url, {"allowed_power_actions": ["explode"]}, content_type="application/json")
    assert bad.status_code == 400


def test_platform_admins_change_the_limit_and_create_and_delete_tenants(client, platform_admin, tenant_a):
    client.force_login(platform_admin)
    settings_url = reverse("api:tenant-settings", args=["tenant-a"])
    assert client.patch(settings_url, {"max_servers": 3}, content_type="application/json").json()["max_servers"] == 3
    created = client.post(reverse("api:tenant-list"), {"name": "Globex", "slug": "globex"})
    assert created.status_code == 201
    assert client.delete(reverse("api:tenant-detail", args=["globex"])).status_code == 204
    assert not Tenant.objects.filter(slug="globex").exists()


def test_a_tenant_admin_renames_the_tenant_but_cannot_deactivate_it(client, tenant_a, admin_a):
    client.force_login(admin_a)
    url = reverse("api:tenant-detail", args=["tenant-a"])
    assert client.patch(url, {"name": "Acme"}, content_type="application/json").json()["name"] == "Acme"
    assert client.patch(url, {"is_active": False}, content_type="application/json").status_code == 403
