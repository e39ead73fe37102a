"""The operators' overview: every tenant with its servers, guests, members and open consoles."""

import pytest
from django.urls import reverse

from console.models import ConsoleSession
from tests.conftest import make_server

pytestmark = pytest.mark.django_db


def test_it_shows_each_tenants_servers_guests_members_and_open_consoles(
    client, platform_admin, sim_server, admin_a, viewer_a, tenant_b
):
    from django.utils import timezone

    sim_server.connection_status = "online"
    sim_server.save()
    make_server(sim_server.tenant, "pve-down", host="127.0.0.1", port=9)  # nothing listens: it does not answer
    ConsoleSession.objects.create(
        user=admin_a,
        tenant=sim_server.tenant,
        server=sim_server,
        vmid=100,
        token_expires_at=timezone.now(),
        opened_at=timezone.now(),
    )
    client.force_login(platform_admin)
    page = client.get(reverse("portal:operators"))
    rows = {row.tenant.slug: row for row in page.context["overview"]}
    tenant_a = rows[sim_server.tenant.slug]
    assert [server.name for server in tenant_a.servers] == ["pve-down", sim_server.name]
    assert (tenant_a.online, tenant_a.servers_without_answer, tenant_a.open_consoles) == (1, 1, 1)
    assert tenant_a.guests > 0 and tenant_a.tenant.member_count == 2
    assert (rows["tenant-b"].servers, rows["tenant-b"].guests, rows["tenant-b"].open_consoles) == ([], 0, 0)
    html = page.content.decode()
    assert "1 server did not answer" in html and "1 of 2 online" in html
    assert reverse("admin:tenants_tenant_change", args=[tenant_b.pk]) in html
    assert reverse("tenants:members", args=["tenant-b"]) in html


def test_it_is_for_platform_admins_only(client, admin_a):
    client.force_login(admin_a)
    assert client.get(reverse("portal:operators")).status_code == 403


def test_the_header_leads_platform_admins_there(client, platform_admin, admin_a):
    client.force_login(platform_admin)
    assert reverse("portal:operators") in client.get(reverse("accounts:users")).content.decode()
    client.force_login(admin_a)
    assert reverse("portal:operators") not in client.get(reverse("portal:home")).content.decode()
