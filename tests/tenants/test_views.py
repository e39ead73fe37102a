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
