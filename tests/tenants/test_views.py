"""The header's tenant switcher."""

from django.urls import reverse

from tenants.models import Membership
from tenants.roles import Role


def test_switching_remembers_the_tenant_and_returns_to_the_page(client, admin_a, tenant_b):
    Membership.objects.create(user=admin_a, tenant=tenant_b, role=Role.VIEWER)
    client.force_login(admin_a)
    response = client.post(reverse("tenants:switch"), {"tenant": "tenant-b", "next": "/console/sessions/"})
    assert response.status_code == 302 and response["Location"] == "/console/sessions/"
    page = client.get(reverse("portal:home")).content.decode()
    assert 'aria-label="Tenant: Tenant B (switch)"' in page


def test_a_tenant_the_user_does_not_reach_is_a_404(client, admin_a, tenant_b):
    client.force_login(admin_a)
    assert client.post(reverse("tenants:switch"), {"tenant": "tenant-b"}).status_code == 404


def test_it_never_sends_the_user_to_another_site(client, admin_a):
    client.force_login(admin_a)
    response = client.post(reverse("tenants:switch"), {"tenant": "tenant-a", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_one_tenant_shows_without_a_switcher(client, admin_a):
    client.force_login(admin_a)
    page = client.get(reverse("portal:home")).content.decode()
    assert "Tenant A" in page and "Switch tenant" not in page


def test_the_header_links_to_the_tenants_pages_for_who_may_use_them(client, tenant_a, admin_a, manager_a, viewer_a):
    members, settings_page = (
        reverse("tenants:members", args=["tenant-a"]),
        reverse("tenants:settings", args=["tenant-a"]),
    )
    for user, sees_members, sees_settings in (
        (admin_a, True, True),
        (manager_a, True, False),
        (viewer_a, False, False),
    ):
        client.force_login(user)
        html = client.get(reverse("portal:home")).content.decode()
        assert (f'href="{members}"' in html, f'href="{settings_page}"' in html) == (sees_members, sees_settings)


def test_an_admin_adds_changes_and_removes_members_on_the_page(client, tenant_a, admin_a, outsider):
    from tenants.models import Membership

    client.force_login(admin_a)
    page = client.post(
        reverse("tenants:member-add", args=["tenant-a"]), {"user": "outsider", "role": "manager"}, follow=True
    )
    assert "Added outsider as manager." in page.content.decode()
    membership = Membership.objects.get(user=outsider)
    client.post(reverse("tenants:member-role", args=["tenant-a", membership.pk]), {"role": "viewer"})
    assert Membership.objects.get(user=outsider).role == "viewer"
    last = Membership.objects.get(user=admin_a)
    refused = client.post(reverse("tenants:member-remove", args=["tenant-a", last.pk]), follow=True)
    assert "is the last admin of Tenant A" in refused.content.decode()
    client.post(reverse("tenants:member-remove", args=["tenant-a", membership.pk]))
    assert not Membership.objects.filter(user=outsider).exists()


def test_the_settings_page_saves_and_keeps_the_server_limit(client, tenant_a, admin_a):
    client.force_login(admin_a)
    form = {
        "name": "Tenant A",
        "description": "",
        "logo_url": "https://example.com/logo.png",
        "console_enabled": "",
        "console_idle_timeout": "60",
        "console_max_duration": "3600",
        "allowed_power_actions": ["start"],
        "max_servers": "500",
    }
    response = client.post(reverse("tenants:settings", args=["tenant-a"]), form, follow=True)
    assert "Settings saved." in response.content.decode()
    tenant_a.refresh_from_db()
    assert (tenant_a.console_enabled, tenant_a.allowed_power_actions, tenant_a.max_servers) == (False, ["start"], 50)
    assert '<img class="tenant-logo" src="https://example.com/logo.png"' in response.content.decode()


def test_an_admin_grants_a_single_guest_on_the_page_and_takes_it_back(client, tenant_a, server_a, admin_a, outsider):
    from vms.models import GuestGrant

    client.force_login(admin_a)
    data = {"user": "outsider", "target": f"server:{server_a.pk}", "part": "101", "permission": "power"}
    page = client.post(reverse("tenants:grant-add", args=["tenant-a"]), data, follow=True)
    assert "Granted power on guest pve-a/101 to outsider." in page.content.decode()
    assert GuestGrant.objects.values_list("vmid", "console", "power").get() == (101, False, True)
    assert "guest pve-a/101" in client.get(reverse("tenants:members", args=["tenant-a"])).content.decode()
    grant_id = f"guest-{GuestGrant.objects.get().pk}-power"
    page = client.post(reverse("tenants:grant-revoke", args=["tenant-a", grant_id]), follow=True)
    assert "Took back power on guest pve-a/101 from outsider." in page.content.decode()
    assert not GuestGrant.objects.exists()


def test_a_whole_server_is_granted_when_no_vm_id_is_given(client, tenant_a, server_a, admin_a, outsider):
    from guardian.shortcuts import get_perms

    client.force_login(admin_a)
    data = {"user": "outsider", "target": f"server:{server_a.pk}", "part": "", "permission": "console"}
    client.post(reverse("tenants:grant-add", args=["tenant-a"]), data)
    assert get_perms(outsider, server_a) == ["open_console"]
