"""Single-guest grants: one per user and guest, changed in place, recorded in the audit log."""

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError

from vms.models import GuestGrant
from vms.services import guest_grant_revoke, guest_grant_set


def test_granting_again_changes_the_grant_instead_of_adding_one(outsider, server_a, admin_a):
    first = guest_grant_set(user=outsider, server=server_a, vmid=100, console=True, actor=admin_a)
    again = guest_grant_set(user=outsider, server=server_a, vmid=100, power=True)
    assert again.pk == first.pk and (again.console, again.power, again.created_by) == (False, True, admin_a)
    assert str(again) == "outsider on pve-a guest 100 (view, power)"


def test_a_vmid_outside_proxmoxs_range_is_refused(outsider, server_a):
    with pytest.raises(ValidationError):
        guest_grant_set(user=outsider, server=server_a, vmid=99)


def test_grants_and_their_removal_are_in_the_audit_log(outsider, server_a):
    grant = guest_grant_set(user=outsider, server=server_a, vmid=100, console=True)
    guest_grant_revoke(grant=grant)
    assert not GuestGrant.objects.exists()
    actions = list(LogEntry.objects.get_for_model(GuestGrant).values_list("action", flat=True))
    assert sorted(actions) == [LogEntry.Action.CREATE, LogEntry.Action.DELETE]


def test_tenant_admins_see_their_tenants_grants_only(outsider, server_a, server_b, admin_a, manager_a):
    guest_grant_set(user=outsider, server=server_a, vmid=100)
    guest_grant_set(user=outsider, server=server_b, vmid=100)
    assert [grant.server for grant in GuestGrant.objects.restrict(admin_a, "tenants.manage_members")] == [server_a]
    assert not GuestGrant.objects.restrict(manager_a, "tenants.manage_members").exists()
