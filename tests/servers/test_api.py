"""The servers API: tenant admins and managers add, change and delete their tenant's servers. The token secret is
write-only, the tenant's limit and unique names hold (under concurrent requests too), every field is checked at
save time, changes are audited without the secret, and a saved server is checked at once."""

import threading

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from console.models import ConsoleSession
from metrics.models import ConnectionMetric
from servers import services
from servers.api import CONNECTION_FIELDS
from servers.models import ProxmoxServer
from tenants import roles
from tests.conftest import make_console_session, make_server

SECRET = "5f0c9b1e-0d2a-4c3e-9b8f-00c0ffee0001"
OTHER_SECRET = "a1b2c3d4-0d2a-4c3e-9b8f-00c0ffee0002"
FINGERPRINT = ":".join(["AB"] * 32)


def new_server(**changes) -> dict:
    body = {
        "name": "pve-new",
        "host": "pve.example.com",
        "port": 8006,
        "token_id": "nexus@pve!broker",
        "token_secret": SECRET,
        "tls_mode": "fingerprint",
        "fingerprint": FINGERPRINT,
    }
    body.update(changes)
    return body


def post(client, body, **extra):
    return client.post(reverse("api:server-list"), body, content_type="application/json", **extra)


def patch(client, server, body):
    return client.patch(reverse("api:server-detail", args=[server.pk]), body, content_type="application/json")


def test_a_manager_adds_a_server_to_their_tenant(client, manager_a, tenant_a):
    client.force_login(manager_a)
    response = post(client, new_server())
    assert response.status_code == 201, response.content
    server = ProxmoxServer.objects.get(pk=response.json()["id"])
    assert server.tenant == tenant_a and server.created_by == manager_a
    assert server.token_secret == SECRET
    assert server.fingerprint == FINGERPRINT and server.connection_status == "unknown"
    assert response.json()["tenant"] == "tenant-a"


def test_the_token_secret_is_accepted_but_never_returned(client, admin_a, server_a):
    client.force_login(admin_a)
    answers = [
        post(client, new_server()),
        patch(client, server_a, {"token_secret": OTHER_SECRET}),
        client.get(reverse("api:server-list")),
    ]
    for answer in answers:
        body = answer.content.decode()
        assert "token_secret" not in body and SECRET not in body and OTHER_SECRET not in body


def test_leaving_the_secret_out_keeps_the_stored_one(client, manager_a, server_a):
    stored = server_a.token_secret
    client.force_login(manager_a)
    assert patch(client, server_a, {"name": "renamed"}).status_code == 200
    assert patch(client, server_a, {"name": "renamed-again", "token_secret": ""}).status_code == 200
    server_a.refresh_from_db()
    assert server_a.name == "renamed-again" and server_a.token_secret == stored
    assert patch(client, server_a, {"token_secret": OTHER_SECRET}).status_code == 200
    server_a.refresh_from_db()
    assert server_a.token_secret == OTHER_SECRET


def test_a_full_update_replaces_the_settings(client, admin_a, server_a):
    client.force_login(admin_a)
    url = reverse("api:server-detail", args=[server_a.pk])
    body = new_server(name="pve-a", host="10.0.0.9", port=443, token_secret="")
    response = client.put(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    server_a.refresh_from_db()
    assert (server_a.host, server_a.port) == ("10.0.0.9", 443)


def test_a_new_server_needs_its_secret(client, manager_a):
    client.force_login(manager_a)
    response = post(client, new_server(token_secret=""))
    assert response.status_code == 400
    assert response.json()["errors"]["token_secret"] == ["A new server needs its API token secret."]


def test_a_server_cannot_move_to_another_tenant(client, platform_admin, server_a, tenant_b):
    client.force_login(platform_admin)
    assert patch(client, server_a, {"tenant": tenant_b.slug}).status_code == 200
    server_a.refresh_from_db()
    assert server_a.tenant.slug == "tenant-a"


def test_names_are_unique_per_tenant(client, manager_a, admin_b, server_a):
    client.force_login(manager_a)
    response = post(client, new_server(name="pve-a"))
    assert response.status_code == 400
    assert response.json()["errors"]["name"] == ["Tenant A already has a server named pve-a."]
    other = make_server(server_a.tenant, "pve-other")
    assert patch(client, other, {"name": "pve-a"}).status_code == 400
    client.force_login(admin_b)
    assert post(client, new_server(name="pve-a")).status_code == 201  # another tenant's name is no clash


def test_the_tenants_limit_holds(client, manager_a, tenant_a, server_a):
    tenant_a.max_servers = 1
    tenant_a.save()
    client.force_login(manager_a)
    response = post(client, new_server())
    assert response.status_code == 400
    assert response.json()["errors"]["tenant"] == ["Tenant A already has its maximum of 1 servers."]
    assert patch(client, server_a, {"name": "still-editable"}).status_code == 200


def test_a_platform_admin_names_the_tenant_and_others_may_not(client, platform_admin, manager_a, tenant_a, tenant_b):
    client.force_login(platform_admin)
    response = post(client, new_server())
    assert response.status_code == 400
    assert "Choose the tenant" in response.json()["errors"]["tenant"][0]
    assert post(client, new_server(tenant="tenant-b")).json()["tenant"] == "tenant-b"
    client.force_login(manager_a)
    assert post(client, new_server(tenant="tenant-b")).status_code == 404
    assert post(client, new_server(tenant="tenant-a")).status_code == 201


def test_a_viewer_may_not_add_change_or_delete(client, viewer_a, server_a):
    client.force_login(viewer_a)
    assert post(client, new_server(tenant="tenant-a")).status_code == 403
    assert patch(client, server_a, {"name": "x"}).status_code == 403
    assert client.delete(reverse("api:server-detail", args=[server_a.pk])).status_code == 403


def test_deleting_a_server_takes_its_metrics(client, manager_a, sim_server):
    ConnectionMetric.objects.create(server=sim_server, timestamp=timezone.now(), kind="health_check", success=True)
    client.force_login(manager_a)
    assert client.delete(reverse("api:server-detail", args=[sim_server.pk])).status_code == 204
    assert not ProxmoxServer.objects.filter(pk=sim_server.pk).exists()
    assert not ConnectionMetric.objects.exists()


# ------------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "field, value, complaint",
    [
        ("token_secret", "with space", "spaces or line breaks"),
        ("token_secret", "sécret", "plain ASCII"),
        ("token_secret", "x" * 300, "300 characters long"),
        ("token_id", "root@pam", "USER@REALM!TOKENID"),
        ("fingerprint", "AB:CD", "SHA-256 digest"),
        ("fingerprint", "", "Give the fingerprint to pin"),
        ("host", "https://pve.example.com", "without a scheme"),
        ("host", "pve.example.com/api", "without a path"),
        ("host", "root@pve.example.com", "without a user name"),
        ("host", "pve.example.com:8006", "port field"),
        ("host", "fe80::1%eth0", "zone ids"),
        ("host", "pve_1.example.com", "not a valid host name"),
        ("host", "169.254.169.254", "169.254.0.0/16"),
        ("host", "fe80::1", "fe80::/10"),
        ("host", "[fe80::1]", "fe80::/10"),
        ("port", 0, "greater than or equal to 1"),
        ("port", 70000, "less than or equal to 65535"),
        ("connection_timeout", 0, "greater than or equal to 1"),
        ("tls_mode", "insecure", "not a valid choice"),
    ],
)
def test_every_field_is_checked_at_save_time(client, manager_a, field, value, complaint):
    client.force_login(manager_a)
    response = post(client, new_server(**{field: value}))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    messages = " ".join(response.json()["errors"][field])
    assert complaint in messages
    if field == "token_secret":
        assert str(value) not in response.content.decode()  # a secret, even a bad one, is never echoed
    assert not ProxmoxServer.objects.exists()


def test_a_ca_certificate_must_parse(client, manager_a, pve):
    client.force_login(manager_a)
    bogus = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    response = post(client, new_server(tls_mode="ca", fingerprint="", ca_pem=bogus))
    assert "does not parse" in response.json()["errors"]["ca_pem"][0]
    response = post(client, new_server(tls_mode="ca", fingerprint="", ca_pem="PRIVATE KEY"))
    assert "private key" in response.json()["errors"]["ca_pem"][0]
    assert post(client, new_server(tls_mode="ca", fingerprint="", ca_pem=pve.ca_pem)).status_code == 201


def test_a_setting_denies_more_address_ranges(client, manager_a, settings):
    client.force_login(manager_a)
    assert post(client, new_server(name="loop", host="127.0.0.1")).status_code == 201
    settings.SERVER_DENIED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    for host in ("127.0.0.2", "::1"):
        response = post(client, new_server(name=f"loop-{host}", host=host))
        assert "where servers may not be added" in response.json()["errors"]["host"][0]


# ------------------------------------------------------------------------------------------- audit and events


def test_changes_are_audited_without_the_secret(client, manager_a, server_a):
    client.force_login(manager_a)
    created = post(client, new_server()).json()
    patch(client, server_a, {"name": "renamed", "token_secret": OTHER_SECRET})
    client.delete(reverse("api:server-detail", args=[created["id"]]))
    entries = LogEntry.objects.filter(content_type__model="proxmoxserver", actor=manager_a)
    assert {entry.action for entry in entries} == {
        LogEntry.Action.CREATE,
        LogEntry.Action.UPDATE,
        LogEntry.Action.DELETE,
    }
    entries = LogEntry.objects.filter(content_type__model="proxmoxserver")  # the fixture's too
    history = " ".join(f"{entry.changes} {entry.serialized_data} {entry.additional_data}" for entry in entries)
    assert "renamed" in history
    for secret in (SECRET, OTHER_SECRET, server_a.token_secret, "token_secret_encrypted"):
        assert secret not in history


def test_a_saved_server_is_checked_at_once(client, manager_a, pve, settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    client.force_login(manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, new_server(**pve.connection_settings()))
    server = ProxmoxServer.objects.get(pk=response.json()["id"])
    assert server.connection_status == "online"
    assert server.metrics.count() == 1


@pytest.fixture
def announced():
    """The servers whose saved connection settings were announced (to metrics, which checks them)."""
    servers = []

    def hear(sender, server_id, **kwargs):
        servers.append(server_id)

    services.server_connection_saved.connect(hear)
    yield servers
    services.server_connection_saved.disconnect(hear)


def test_only_changed_connection_settings_check_again(
    client, manager_a, sim_server, announced, django_capture_on_commit_callbacks
):
    checked = announced
    client.force_login(manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        patch(client, sim_server, {"name": "renamed"})
    assert checked == []
    with django_capture_on_commit_callbacks(execute=True):
        patch(client, sim_server, {"connection_timeout": 5})
    assert checked == [sim_server.pk]
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "unknown"  # until the new settings are checked


def test_a_failing_queue_does_not_fail_the_save(
    client, manager_a, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise ConnectionError("the broker is down")

    monkeypatch.setattr("metrics.tasks.check_server.delay", broken)
    client.force_login(manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, new_server()).status_code == 201
    assert "the broker is down" in caplog.text


def test_changes_are_published_to_the_tenant_without_secrets(client, manager_a, server_a, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "tenant_event_publish", lambda **event: sent.append(event))
    client.force_login(manager_a)
    patch(client, server_a, {"name": "renamed"})
    client.delete(reverse("api:server-detail", args=[server_a.pk]))
    assert [(event["kind"], event["data"]["name"]) for event in sent] == [
        ("server.changed", "renamed"),
        ("server.deleted", "renamed"),
    ]
    assert all("token" not in str(event) and "host" not in str(event["data"]) for event in sent)


# --------------------------------------------------------------------------------------------- the last slot


@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_for_the_last_slot_one_wins(tenant_a, manager_a, monkeypatch):
    """Both requests are checked before either saves; the tenant's lock makes the second wait and count again."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite takes no row locks: the demo's one process runs requests one at a time")
    tenant_a.max_servers = 1
    tenant_a.save()
    both_checking = threading.Barrier(2, timeout=2)
    real_lock = services._lock_tenant

    def lock_then_meet(tenant):
        real_lock(tenant)
        try:
            both_checking.wait()  # without the lock both get here together and both would save
        except threading.BrokenBarrierError:
            pass  # the other request waits for the lock: as it should

    monkeypatch.setattr(services, "_lock_tenant", lock_then_meet)
    statuses = []

    def add(name):
        client = Client()
        client.force_login(manager_a)
        statuses.append(post(client, new_server(name=name)).status_code)
        connection.close()

    racers = [threading.Thread(target=add, args=(f"pve-{n}",)) for n in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(statuses) == [201, 400]
    assert ProxmoxServer.objects.filter(tenant=tenant_a).count() == 1


def test_deleting_a_server_ends_its_open_consoles_once_the_deletion_commits(
    client, manager_a, sim_server, server_a, monkeypatch, django_capture_on_commit_callbacks
):
    told = []
    monkeypatch.setattr("console.services._tell_consumer", lambda session, reason: told.append(session.channel_name))
    now = timezone.now()
    make_console_session(manager_a, sim_server, opened_at=now, channel_name="relay.open")
    make_console_session(manager_a, sim_server, opened_at=now, closed_at=now, channel_name="relay.closed")
    make_console_session(manager_a, server_a, opened_at=now, channel_name="relay.other-server")
    client.force_login(manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(reverse("api:server-detail", args=[sim_server.pk])).status_code == 204
    assert told == ["relay.open"]
    assert list(ConsoleSession.objects.values_list("channel_name", flat=True)) == ["relay.other-server"]


# ---------------------------------------------------------- how a server is reached: for those who may change it


def server_json(client, user, server):
    client.force_login(user)
    return client.get(reverse("api:server-detail", args=[server.pk])).json()


@pytest.mark.parametrize("user", ["manager_a", "admin_a", "platform_admin"])
def test_who_may_change_the_server_sees_how_it_is_reached(request, client, server_a, user):
    body = server_json(client, request.getfixturevalue(user), server_a)
    assert set(CONNECTION_FIELDS) <= set(body)
    assert (body["host"], body["port"], body["token_id"]) == ("pve.example.com", 8006, "nexus@pve!broker")


def test_a_viewer_and_a_grantee_see_its_name_and_status_only(client, server_a, viewer_a, outsider):
    assign_perm(roles.OPEN_CONSOLE, outsider, server_a)
    for user in (viewer_a, outsider):
        body = server_json(client, user, server_a)
        assert body["name"] == "pve-a" and "connection_status" in body
        assert not set(CONNECTION_FIELDS) & set(body)
        assert "pve.example.com" not in str(body)
    client.force_login(viewer_a)
    (listed,) = client.get(reverse("api:server-list")).json()["results"]
    assert "host" not in listed
