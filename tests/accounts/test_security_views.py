"""The two-factor devices of one's own account (enrol, rename, remove, recovery codes), the enforcement by
tenants and by the platform, and the operators' reset."""

import re

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import PlatformSecurity, RecoveryCodes
from audit.models import AuditEvent
from tests.accounts.two_factor import NOW, code_at, enrol_totp


def verified_login(client, user, device):
    """A session that passed the second factor with `device`, as the login's second step leaves it."""
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()


def secret_of(page) -> str:
    return re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1)


def test_enrolling_an_app_shows_a_secret_once_and_confirms_it_with_a_first_code(client, viewer_a, clock):
    client.force_login(viewer_a)
    first = client.get(reverse("accounts:totp-enrol"))
    assert first.status_code == 200 and first["Cache-Control"] == "no-store"
    assert b"data:image/svg+xml" in first.content  # the QR code
    again = client.get(reverse("accounts:totp-enrol"))
    assert secret_of(again) != secret_of(first)  # a reload makes a new secret: the first is never shown again
    device = TOTPDevice.objects.get(user=viewer_a)
    assert not device.confirmed
    wrong = client.post(reverse("accounts:totp-enrol"), {"code": "000000", "name": "Phone"})
    assert wrong.status_code == 400 and secret_of(wrong) == secret_of(again)
    done = client.post(reverse("accounts:totp-enrol"), {"code": code_at(device, NOW), "name": "Phone"})
    assert done.status_code == 201
    device.refresh_from_db()
    assert device.confirmed and device.name == "Phone"
    assert len(re.findall(r"<li>[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}</li>", done.content.decode())) == 10
    assert client.session["otp_device_id"] == device.persistent_id
    assert AuditEvent.objects.filter(action="two-factor enrolled", actor=viewer_a, details__kind="totp").exists()
    assert AuditEvent.objects.filter(action="recovery codes generated", actor=viewer_a).exists()


def test_the_first_code_of_an_enrolment_cannot_log_in_again(client, viewer_a, clock):
    client.force_login(viewer_a)
    client.get(reverse("accounts:totp-enrol"))
    device = TOTPDevice.objects.get(user=viewer_a)
    code = code_at(device, NOW)
    client.post(reverse("accounts:totp-enrol"), {"code": code, "name": "Phone"})
    device.refresh_from_db()
    assert not device.verify_token(code)


def test_new_recovery_codes_replace_the_old_ones(client, viewer_a):
    device = enrol_totp(viewer_a)
    verified_login(client, viewer_a, device)
    first = client.post(reverse("accounts:recovery-codes"))
    second = client.post(reverse("accounts:recovery-codes"))
    assert first.status_code == second.status_code == 201
    old = re.search(r"<li>([A-Z2-9-]{19})</li>", first.content.decode()).group(1)
    recovery = RecoveryCodes.objects.get(user=viewer_a)
    assert not recovery.verify_token(old)
    assert recovery.remaining == 10


def test_devices_are_renamed_and_removed_with_audit(client, viewer_a):
    phone, tablet = enrol_totp(viewer_a), enrol_totp(viewer_a)
    verified_login(client, viewer_a, phone)
    client.post(reverse("accounts:device-rename", args=["totp", tablet.pk]), {"name": "Old tablet"})
    tablet.refresh_from_db()
    assert tablet.name == "Old tablet"
    client.post(reverse("accounts:device-remove", args=["totp", tablet.pk]))
    assert list(TOTPDevice.objects.filter(user=viewer_a)) == [phone]
    assert AuditEvent.objects.filter(action="two-factor removed", details__device="Old tablet").exists()
    page = client.get(reverse("accounts:security"))
    assert b'value="Phone"' in page.content and b'value="Old tablet"' not in page.content


def test_removing_the_last_authenticator_takes_the_recovery_codes_with_it(client, viewer_a):
    phone = enrol_totp(viewer_a)
    verified_login(client, viewer_a, phone)
    client.post(reverse("accounts:recovery-codes"))
    client.post(reverse("accounts:device-remove", args=["totp", phone.pk]))
    assert not TOTPDevice.objects.filter(user=viewer_a).exists()
    assert not RecoveryCodes.objects.filter(user=viewer_a).exists()


def test_removing_the_last_authenticator_is_refused_where_two_factor_is_required(client, viewer_a, tenant_a):
    tenant_a.require_two_factor = True
    tenant_a.save()
    phone = enrol_totp(viewer_a)
    verified_login(client, viewer_a, phone)
    response = client.post(reverse("accounts:device-remove", args=["totp", phone.pk]), follow=True)
    assert TOTPDevice.objects.filter(pk=phone.pk).exists()
    assert b"enrol another authenticator" in response.content


def test_devices_change_only_in_a_session_that_passed_the_second_factor(client, viewer_a):
    phone = enrol_totp(viewer_a)
    client.force_login(viewer_a)  # the security pages are open to it, but change nothing
    client.post(reverse("accounts:device-remove", args=["totp", phone.pk]))
    assert TOTPDevice.objects.filter(pk=phone.pk).exists()
    assert client.get(reverse("accounts:totp-enrol")).status_code == 302


def test_a_member_of_a_tenant_that_requires_two_factor_must_enrol_before_anything_else(client, viewer_a, tenant_a):
    tenant_a.require_two_factor = True
    tenant_a.save()
    client.force_login(viewer_a)
    assert client.get(reverse("portal:home"))["Location"] == reverse("accounts:security")
    assert client.get(reverse("accounts:tokens"))["Location"] == reverse("accounts:security")
    api = client.get(reverse("api:server-list"))
    assert api.status_code == 403 and api.json()["code"] == "two_factor_enrolment_required"
    assert b"Enrol a second factor to continue" in client.get(reverse("accounts:security")).content
    # Enrolled: free again.
    device = enrol_totp(viewer_a)
    verified_login(client, viewer_a, device)
    assert client.get(reverse("portal:home")).status_code == 200


def test_the_tenants_requirement_does_not_reach_other_tenants_members(client, admin_b, tenant_a):
    tenant_a.require_two_factor = True
    tenant_a.save()
    client.force_login(admin_b)
    assert client.get(reverse("portal:home")).status_code == 200


@pytest.mark.parametrize("grant", ["server", "guest"])
def test_the_tenants_requirement_reaches_who_holds_a_grant_on_its_servers_or_guests(
    client, outsider, tenant_a, server_a, grant
):
    from guardian.shortcuts import assign_perm

    from vms.services import guest_grant_set

    if grant == "server":
        assign_perm("servers.open_console", outsider, server_a)
    else:
        guest_grant_set(user=outsider, server=server_a, vmid=100, console=True)
    client.force_login(outsider)
    assert client.get(reverse("portal:home")).status_code == 200
    tenant_a.require_two_factor = True
    tenant_a.save()
    assert client.get(reverse("portal:home"))["Location"] == reverse("accounts:security")


def test_a_tenants_requirement_binds_a_platform_admin_only_where_they_are_a_member(client, platform_admin, tenant_a):
    from tenants.models import Membership

    tenant_a.require_two_factor = True
    tenant_a.save()
    client.force_login(platform_admin)
    assert client.get(reverse("vms:guests")).status_code == 200
    Membership.objects.create(user=platform_admin, tenant=tenant_a, role="admin")
    assert client.get(reverse("vms:guests"))["Location"] == reverse("accounts:security")


def test_tenant_admins_turn_the_requirement_on_in_the_settings(client, admin_a, tenant_a):
    client.force_login(admin_a)
    response = client.patch(
        reverse("api:tenant-settings", args=[tenant_a.slug]), {"require_two_factor": True}, "application/json"
    )
    assert response.status_code == 200 and response.json()["require_two_factor"] is True
    tenant_a.refresh_from_db()
    assert tenant_a.require_two_factor


@pytest.mark.parametrize(
    "policy, user, gated",
    [
        ({"require_two_factor_for_platform_admins": True}, "platform_admin", True),
        ({"require_two_factor_for_platform_admins": True}, "outsider", False),
        ({"require_two_factor_for_everyone": True}, "outsider", True),
        ({"require_two_factor_for_everyone": True}, "platform_admin", True),
    ],
)
def test_the_platforms_policy_requires_two_factor_of_whom_it_says(request, db, client, policy, user, gated):
    PlatformSecurity.objects.create(**policy)
    client.force_login(request.getfixturevalue(user))
    response = client.get(reverse("portal:home"))
    assert (response.status_code == 302) is gated


def test_a_platform_admin_resets_a_users_devices_with_audit(client, platform_admin, viewer_a):
    enrol_totp(viewer_a)
    client.force_login(platform_admin)
    response = client.post(reverse("api:user-reset-two-factor", args=[viewer_a.pk]))
    assert response.status_code == 200 and response.json() == {"removed": 1}
    assert not TOTPDevice.objects.filter(user=viewer_a).exists()
    event = AuditEvent.objects.get(action="two-factor reset")
    assert event.actor == platform_admin and event.target == "viewer-a"


def test_only_platform_admins_reset_devices(client, admin_a, viewer_a):
    enrol_totp(viewer_a)
    client.force_login(admin_a)
    assert client.post(reverse("accounts:user-two-factor-reset", args=[viewer_a.pk])).status_code == 403
    assert TOTPDevice.objects.filter(user=viewer_a).exists()


def test_api_tokens_need_a_session_that_passed_the_second_factor_but_work_without_one(client, viewer_a):
    device = enrol_totp(viewer_a)
    verified_login(client, viewer_a, device)
    created = client.post(reverse("api:token-list"), {"name": "script"}, "application/json")
    assert created.status_code == 201
    key = created.json()["token"]
    client.logout()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert client.get(reverse("api:server-list"), **bearer).status_code == 200  # the token is not asked for 2FA
    refused = client.post(reverse("api:token-list"), {"name": "another"}, "application/json", **bearer)
    assert refused.status_code == 403
