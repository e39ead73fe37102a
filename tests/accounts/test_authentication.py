"""Personal API tokens authenticate API requests: stored as a hash, with their owner's permissions exactly."""

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke
from servers.models import ProxmoxServer

pytestmark = pytest.mark.django_db


def token_of(user, **fields):
    fields.setdefault("expires_at", None)
    return api_token_create(user=user, name="script", client_ip=None, **fields)


def api(key=None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_an_anonymous_request_is_told_to_authenticate():
    response = api().get(reverse("api:server-list"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["code"] == "not_authenticated"


def test_a_token_acts_with_exactly_its_owners_permissions(viewer_a, server_a, server_b):
    _, key = token_of(viewer_a)
    servers = api(key).get(reverse("api:server-list")).json()["results"]
    assert [server["id"] for server in servers] == [server_a.pk]
    assert api(key).get(reverse("api:server-detail", args=[server_b.pk])).status_code == 404
    # A viewer may not end consoles or see sessions, with a token as with a session.
    assert api(key).get(reverse("api:console-session-list")).json()["count"] == 0


def test_only_a_hash_of_the_key_is_stored(viewer_a):
    token, key = token_of(viewer_a)
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert key not in str(stored)
    assert stored["digest"] == hashlib.sha512(key.encode()).hexdigest()


def test_a_wrong_key_is_refused(viewer_a):
    _, key = token_of(viewer_a)
    response = api(key[:-1] + ("A" if key[-1] != "A" else "B")).get(reverse("api:server-list"))
    assert response.status_code == 401


def test_an_expired_token_stops_working(viewer_a):
    token, key = token_of(viewer_a, expires_at=timezone.now() + timedelta(days=1))
    assert api(key).get(reverse("api:server-list")).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert api(key).get(reverse("api:server-list")).status_code == 401


def test_a_revoked_token_stops_working(viewer_a):
    token, key = token_of(viewer_a)
    api_token_revoke(token=token, actor=viewer_a, client_ip=None)
    assert api(key).get(reverse("api:server-list")).status_code == 401


def test_a_token_stops_working_when_its_owner_is_deactivated(viewer_a):
    _, key = token_of(viewer_a)
    viewer_a.is_active = False
    viewer_a.save()
    assert api(key).get(reverse("api:server-list")).status_code == 401


def test_the_last_use_is_recorded(viewer_a):
    token, key = token_of(viewer_a)
    assert token.last_used_at is None
    api(key).get(reverse("api:server-list"))
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_token_needs_no_csrf_token_and_names_its_owner_in_model_changes(platform_admin, tenant_a):
    from auditlog.models import LogEntry

    _, key = token_of(platform_admin)
    response = api(key).patch(reverse("api:tenant-detail", args=[tenant_a.slug]), {"name": "Renamed"}, format="json")
    assert response.status_code == 200, response.content
    assert LogEntry.objects.get_for_object(tenant_a).latest().actor == platform_admin
    assert ProxmoxServer.objects.count() == 0
