"""A tenant admin maps an identity provider's groups to their tenant and a role, on the tenant's page."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from accounts.models import GroupMapping, OidcProvider, SsoMembership
from accounts.services import sso_memberships_sync
from tenants.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(db):
    provider = OidcProvider(name="Acme SSO", slug="acme-sso", issuer="http://127.0.0.1:9", client_id="nexus")
    provider.client_secret = "secret"
    provider.save()
    return provider


def test_a_tenant_admin_maps_a_group_and_unmaps_it(client, admin_a, tenant_a, provider):
    client.force_login(admin_a)
    url = reverse("accounts:sso-group-add", args=["tenant-a"])
    page = client.post(url, {"provider": provider.pk, "group": " it-staff ", "role": "manager"}, follow=True)
    assert "Members of the group it-staff join at their next login." in page.content.decode()
    mapping = GroupMapping.objects.get()
    assert (mapping.group, mapping.tenant, mapping.role) == ("it-staff", tenant_a, "manager")
    again = client.post(url, {"provider": provider.pk, "group": "it-staff", "role": "viewer"}, follow=True)
    assert "The group it-staff is mapped already." in again.content.decode()
    listed = client.get(reverse("accounts:sso-groups", args=["tenant-a"])).content.decode()
    assert "it-staff" in listed
    client.post(reverse("accounts:sso-group-remove", args=["tenant-a", mapping.pk]))
    assert not GroupMapping.objects.exists()
    changes = LogEntry.objects.get_for_model(GroupMapping).values_list("action", flat=True)
    assert sorted(changes) == [LogEntry.Action.CREATE, LogEntry.Action.DELETE]


def test_another_tenants_mapping_is_not_found(client, admin_a, tenant_b, provider):
    mapping = GroupMapping.objects.create(provider=provider, group="staff", tenant=tenant_b, role="viewer")
    client.force_login(admin_a)
    response = client.post(reverse("accounts:sso-group-remove", args=["tenant-a", mapping.pk]))
    assert response.status_code == 404 and GroupMapping.objects.exists()


def test_the_members_of_an_unmapped_group_leave_at_their_next_login(admin_a, outsider, tenant_a, provider):
    mapping = GroupMapping.objects.create(provider=provider, group="staff", tenant=tenant_a, role="viewer")
    sso_memberships_sync(provider=provider, user=outsider, groups=["staff"], client_ip=None)
    assert SsoMembership.objects.filter(membership__user=outsider).exists()
    mapping.delete()
    sso_memberships_sync(provider=provider, user=outsider, groups=["staff"], client_ip=None)
    assert not Membership.objects.filter(user=outsider).exists()
