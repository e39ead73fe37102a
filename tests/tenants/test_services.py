"""Members, invitations and grants: the rules of tenants.services."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from guardian.shortcuts import get_perms

from audit.models import AuditEvent
from nexus.errors import ApplicationError
from tenants import services
from tenants.models import Membership
from tenants.roles import Role

pytestmark = pytest.mark.django_db

BASE = "http://testserver/"
PASSWORD = "an invited person's passphrase 7"


def invite(tenant, actor, email="new.person@example.com", role=Role.VIEWER):
    return services.member_add(tenant=tenant, identifier=email, role=role, actor=actor, base_url=BASE)


def invitation_link() -> str:
    return re.search(r"http://testserver(/\S+)", mail.outbox[-1].body)[1]


def set_password(client, link):
    form_url = client.get(link).url
    return client.post(form_url, {"new_password1": PASSWORD, "new_password2": PASSWORD})


def test_an_existing_account_is_added_by_user_name_or_email(tenant_a, admin_a, outsider, admin_b):
    services.member_add(tenant=tenant_a, identifier="outsider", role=Role.MANAGER, actor=admin_a, base_url=BASE)
    membership, invited = services.member_add(
        tenant=tenant_a, identifier="ADMIN-B@example.com", role=Role.VIEWER, actor=admin_a, base_url=BASE
    )
    assert not invited and membership.user == admin_b
    assert Membership.objects.get(user=outsider, tenant=tenant_a).role == Role.MANAGER
    assert mail.outbox == []


def test_adding_a_member_twice_is_refused(tenant_a, admin_a, viewer_a):
    with pytest.raises(ApplicationError) as refusal:
        services.member_add(tenant=tenant_a, identifier="viewer-a", role=Role.ADMIN, actor=admin_a, base_url=BASE)
    assert refusal.value.code == "already_member"


def test_an_unknown_user_name_is_refused_without_inviting(tenant_a, admin_a):
    with pytest.raises(ApplicationError) as refusal:
        services.member_add(tenant=tenant_a, identifier="nobody", role=Role.VIEWER, actor=admin_a, base_url=BASE)
    assert refusal.value.code == "no_such_user"
    assert not get_user_model().objects.filter(username="nobody").exists()


def test_an_invitation_makes_an_account_without_a_password_and_mails_a_link(tenant_a, admin_a):
    membership, invited = invite(tenant_a, admin_a)
    user = membership.user
    assert invited and user.username == "new.person" and user.email == "new.person@example.com"
    assert not user.has_usable_password()
    assert mail.outbox[0].to == ["new.person@example.com"] and "Tenant A" in mail.outbox[0].subject
    assert AuditEvent.objects.filter(action="member invited", tenant=tenant_a, actor=admin_a).exists()


def test_the_invitation_link_works_once(client, tenant_a, admin_a):
    membership, _ = invite(tenant_a, admin_a)
    link = invitation_link()
    assert set_password(client, link).status_code == 302
    membership.user.refresh_from_db()
    assert membership.user.check_password(PASSWORD)
    assert "This link no longer works" in Client().get(link, follow=True).content.decode()


def test_the_invitation_link_expires(client, settings, tenant_a, admin_a):
    invite(tenant_a, admin_a)
    settings.PASSWORD_RESET_TIMEOUT = -1  # the token's age is past any timeout
    assert "This link no longer works" in client.get(invitation_link(), follow=True).content.decode()


def test_the_last_admin_can_be_neither_demoted_nor_removed(tenant_a, admin_a, viewer_a):
    membership = Membership.objects.get(user=admin_a)
    for change in (
        lambda: services.member_change_role(membership=membership, role=Role.MANAGER, actor=admin_a),
        lambda: services.member_remove(membership=membership, actor=admin_a),
    ):
        with pytest.raises(ApplicationError) as refusal:
            change()
        assert refusal.value.code == "last_admin"
    assert Membership.objects.get(user=admin_a).role == Role.ADMIN


def test_an_admin_steps_down_once_there_is_another(tenant_a, admin_a, viewer_a):
    services.member_change_role(membership=Membership.objects.get(user=viewer_a), role=Role.ADMIN, actor=admin_a)
    services.member_remove(membership=Membership.objects.get(user=admin_a), actor=admin_a)
    assert list(Membership.objects.values_list("user__username", flat=True)) == ["viewer-a"]


def test_a_grant_is_given_listed_and_taken_back(tenant_a, server_a, admin_a, outsider):
    grant = services.grant_give(
        tenant=tenant_a,
        identifier="outsider",
        kind="server",
        object_id=server_a.pk,
        permission="console",
        actor=admin_a,
    )
    assert (grant.user, grant.target, grant.permission) == (outsider, server_a, "console")
    assert get_perms(outsider, server_a) == ["open_console"]
    services.grant_revoke(grant=grant, actor=admin_a)
    assert get_perms(outsider, server_a) == []
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["grant given", "grant revoked"]


def test_a_grant_names_an_object_of_the_tenant_and_a_known_permission(tenant_a, server_b, server_a, admin_a, outsider):
    for object_id, permission in ((server_b.pk, "console"), (server_a.pk, "delete"), ("x", "view")):
        with pytest.raises(ApplicationError):
            services.grant_give(
                tenant=tenant_a,
                identifier="outsider",
                kind="server",
                object_id=object_id,
                permission=permission,
                actor=admin_a,
            )
    assert get_perms(outsider, server_b) == []


def test_a_kind_of_whole_objects_grants_only_grantable_permissions(server_a):
    from tenants import grants

    with pytest.raises(ValueError, match="not grantable"):
        grants.ObjectGrantKind("server", type(server_a), {"delete": "servers.delete_proxmoxserver"})


def give(tenant, actor, object_id, permission, kind="guest"):
    return services.grant_give(
        tenant=tenant, identifier="outsider", kind=kind, object_id=object_id, permission=permission, actor=actor
    )


def test_a_guest_is_granted_beside_servers_and_each_flag_is_a_grant(tenant_a, server_a, admin_a, outsider):
    from tenants import grants
    from vms.models import GuestGrant

    give(tenant_a, admin_a, server_a.pk, "view", kind="server")
    viewed = give(tenant_a, admin_a, f"{server_a.pk}/100", "view")
    assert (viewed.kind, str(viewed.target), viewed.object_id) == ("guest", "pve-a/100", f"{server_a.pk}/100")
    give(tenant_a, admin_a, f"{server_a.pk}/100", "console")
    give(tenant_a, admin_a, f"{server_a.pk}/100", "power")
    listed = [(grant.kind, grant.permission) for grant in grants.grants_of(tenant_a)]
    assert listed == [("guest", "console"), ("guest", "power"), ("server", "view")]
    row = GuestGrant.objects.get()
    assert (row.user, row.console, row.power, row.created_by) == (outsider, True, True, admin_a)


def test_taking_back_a_guests_flag_keeps_the_rest_and_the_last_one_ends_the_grant(
    tenant_a, server_a, admin_a, outsider
):
    from tenants import grants
    from vms.models import GuestGrant

    give(tenant_a, admin_a, f"{server_a.pk}/100", "console")
    power = give(tenant_a, admin_a, f"{server_a.pk}/100", "power")
    console = next(grant for grant in grants.grants_of(tenant_a) if grant.permission == "console")
    services.grant_revoke(grant=grants.grant_of(tenant_a, console.id), actor=admin_a)
    assert GuestGrant.objects.values_list("console", "power").get() == (False, True)
    services.grant_revoke(grant=grants.grant_of(tenant_a, power.id), actor=admin_a)
    assert not GuestGrant.objects.exists()
    events = AuditEvent.objects.order_by("pk").values_list("action", "target", "details__permission")
    assert list(events)[-2:] == [
        ("grant revoked", "guest pve-a/100", "console"),
        ("grant revoked", "guest pve-a/100", "power"),
    ]


def test_a_guest_grant_names_a_server_of_the_tenant_and_a_vm_id(tenant_a, server_a, server_b, admin_a, outsider):
    from vms.models import GuestGrant

    for object_id, permission in (
        (f"{server_b.pk}/100", "view"),
        (f"{server_a.pk}/99", "view"),
        (f"{server_a.pk}/x", "view"),
        (f"{server_a.pk}", "view"),
        (f"{server_a.pk}/100", "delete"),
    ):
        with pytest.raises(ApplicationError):
            give(tenant_a, admin_a, object_id, permission)
    assert not GuestGrant.objects.exists()


def test_another_tenants_grant_is_not_found(tenant_a, tenant_b, server_a, admin_a, outsider):
    from django.http import Http404

    from tenants import grants

    grant = give(tenant_a, admin_a, f"{server_a.pk}/100", "view")
    for tenant, grant_id in ((tenant_b, grant.id), (tenant_a, "guest-x"), (tenant_a, "nothing-1")):
        with pytest.raises(Http404):
            grants.grant_of(tenant, grant_id)


def test_an_address_several_accounts_share_asks_for_the_user_name(tenant_a, admin_a, outsider):
    from tests.conftest import make_user

    twin = make_user("twin")
    twin.email = outsider.email
    twin.save()
    with pytest.raises(ApplicationError) as refusal:
        invite(tenant_a, admin_a, email=outsider.email)
    assert refusal.value.code == "ambiguous_email"
    assert get_user_model().objects.filter(email=outsider.email).count() == 2
