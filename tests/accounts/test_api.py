"""The tokens and users API."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from accounts.models import ApiToken
from accounts.services import user_delete
from audit.models import AuditEvent
from nexus.errors import ApplicationError
from tenants import roles
from tenants.models import Membership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_a_new_token_is_shown_once_then_only_listed(client, viewer_a):
    client.force_login(viewer_a)
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    created = client.post(reverse("api:token-list"), {"name": "backup script", "expires_at": expires})
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    key = created.json()["token"]
    listed = client.get(reverse("api:token-list")).json()["results"]
    assert [token["name"] for token in listed] == ["backup script"]
    assert key not in str(listed) and listed[0]["prefix"] == key[:8]
    assert listed[0]["expires_at"] is not None
    event = AuditEvent.objects.get(action="api token created")
    assert (event.actor, event.target) == (viewer_a, "backup script")


def test_a_token_needs_a_name_and_a_future_expiry(client, viewer_a):
    client.force_login(viewer_a)
    assert client.post(reverse("api:token-list"), {"name": ""}).status_code == 400
    past = (timezone.now() - timedelta(days=1)).isoformat()
    assert client.post(reverse("api:token-list"), {"name": "x", "expires_at": past}).status_code == 400


def test_revoking_a_token_is_audited(client, viewer_a):
    client.force_login(viewer_a)
    token_id = client.post(reverse("api:token-list"), {"name": "old"}).json()["id"]
    assert client.delete(reverse("api:token-detail", args=[token_id])).status_code == 204
    assert not ApiToken.objects.exists()
    assert AuditEvent.objects.filter(action="api token revoked", actor=viewer_a, target="old").exists()


def test_nobody_sees_or_revokes_anothers_token(client, viewer_a, admin_a):
    client.force_login(viewer_a)
    token_id = client.post(reverse("api:token-list"), {"name": "mine"}).json()["id"]
    client.force_login(admin_a)
    assert client.get(reverse("api:token-list")).json()["count"] == 0
    assert client.delete(reverse("api:token-detail", args=[token_id])).status_code == 404


def test_deleting_a_user_removes_memberships_grants_and_tokens_and_keeps_the_audit(
    client, platform_admin, viewer_a, server_a
):
    assign_perm(roles.OPEN_CONSOLE, viewer_a, server_a)
    client.force_login(viewer_a)
    client.post(reverse("api:token-list"), {"name": "mine"})
    client.force_login(platform_admin)
    assert client.delete(reverse("api:user-detail", args=[viewer_a.pk])).status_code == 204
    assert not Membership.objects.exists() and not ApiToken.objects.exists()
    created = AuditEvent.objects.get(action="api token created")
    assert created.actor is None and created.actor_label == "viewer-a"
    assert AuditEvent.objects.filter(action="user deleted", target="viewer-a", actor=platform_admin).exists()


def test_a_platform_admin_deletes_another_but_not_themselves(client, platform_admin):
    other = make_user("second-admin", is_superuser=True, is_staff=True)
    client.force_login(other)
    assert client.delete(reverse("api:user-detail", args=[platform_admin.pk])).status_code == 204
    response = client.delete(reverse("api:user-detail", args=[other.pk]))
    assert response.status_code == 409 and response.json()["code"] == "own_account"


def test_the_last_active_platform_admin_cannot_be_deleted(platform_admin):
    deactivated_admin = make_user("former-admin", is_superuser=True, is_active=False)
    with pytest.raises(ApplicationError) as refusal:
        user_delete(user=platform_admin, actor=deactivated_admin, client_ip=None)
    assert refusal.value.code == "last_platform_admin"
    assert platform_admin.__class__.objects.filter(pk=platform_admin.pk).exists()


def test_the_users_list_is_for_platform_admins(client, platform_admin, admin_a):
    client.force_login(platform_admin)
    usernames = [user["username"] for user in client.get(reverse("api:user-list")).json()["results"]]
    assert usernames == ["admin-a", "platform-admin"]
    client.force_login(admin_a)
    assert client.get(reverse("api:user-list")).status_code == 403
