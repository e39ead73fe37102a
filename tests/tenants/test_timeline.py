"""The audit log: events and model changes in one timeline, through the choke point; the CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from tenants.export import neutralise
from tenants.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(tenant_a, tenant_b, admin_a, admin_b, viewer_a):
    audit_record(
        action="console opened", actor=viewer_a, tenant=tenant_a, target="pve-a/qemu/100", ip_address="192.0.2.7"
    )
    audit_record(action="console opened", actor=admin_b, tenant=tenant_b, target="pve-b/qemu/100")
    audit_record(action="login", actor=admin_a)  # of no tenant: for platform admins
    membership = Membership.objects.get(user=viewer_a)
    membership.role = "manager"
    membership.save()  # a model change, logged by django-auditlog


def rows(client, **query):
    return client.get(reverse("api:audit-list"), query).json()


def test_a_tenant_admin_reads_their_tenants_events_and_changes_only(client, history, admin_a):
    client.force_login(admin_a)
    body = rows(client)
    kinds = {(row["kind"], row["action"]) for row in body["results"]}
    assert {("event", "console opened"), ("change", "membership changed"), ("change", "tenant created")} <= kinds
    assert all(row["tenant"] == "tenant-a" for row in body["results"])
    assert "login" not in {row["action"] for row in body["results"]}


def test_a_platform_admin_reads_everything(client, history, platform_admin):
    client.force_login(platform_admin)
    actions = {(row["action"], row["tenant"]) for row in rows(client)["results"]}
    assert {("console opened", "tenant-a"), ("console opened", "tenant-b"), ("login", "")} <= actions


def test_nobody_else_reads_anything(client, history, viewer_a, outsider):
    for user in (viewer_a, outsider):
        client.force_login(user)
        assert rows(client)["count"] == 0


def test_filters(client, history, platform_admin):
    client.force_login(platform_admin)
    assert {row["tenant"] for row in rows(client, tenant="tenant-b")["results"]} == {"tenant-b"}
    by_actor = rows(client, actor="viewer-a")["results"]
    assert [row["action"] for row in by_actor] == ["console opened"]
    assert by_actor[0]["ip_address"] == "192.0.2.7"
    assert {row["action"] for row in rows(client, action="membership")["results"]} == {
        "membership created",
        "membership changed",
    }
    assert [row["target"] for row in rows(client, target="pve-b")["results"]] == ["pve-b/qemu/100"]
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert rows(client, since=tomorrow)["count"] == 0
    assert rows(client, until=tomorrow)["count"] == rows(client)["count"]
    assert client.get(reverse("api:audit-list"), {"since": "soon"}).status_code == 400


def test_pages(client, history, platform_admin):
    client.force_login(platform_admin)
    first = rows(client, page_size=2)
    second = client.get(first["next"]).json()
    assert len(first["results"]) == 2 and first["previous"] is None
    everything = rows(client)["results"]
    assert first["results"] + second["results"] == everything[:4]


def test_a_deleted_users_events_stay_and_say_so(client, history, platform_admin, viewer_a):
    viewer_a.delete()
    client.force_login(platform_admin)
    row = rows(client, actor="viewer-a")["results"][0]
    assert (row["actor"], row["actor_deleted"], row["action"]) == ("viewer-a", True, "console opened")
    page = client.get(reverse("tenants:audit")).content.decode()
    assert 'viewer-a <span class="badge">deleted</span>' in page


def test_the_export_streams_csv_with_the_same_filters(client, history, platform_admin):
    client.force_login(platform_admin)
    response = client.get(reverse("api:audit-export"), {"tenant": "tenant-a", "action": "console"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:5] == ["time", "actor", "actor deleted", "tenant", "action"]
    assert [row[1:5] for row in table[1:]] == [["viewer-a", "", "tenant-a", "console opened"]]


def test_the_export_makes_formula_like_cells_text(client, tenant_a, platform_admin):
    audit_record(action="login", actor_label='=HYPERLINK("http://evil")', outcome=AuditEvent.Outcome.FAILURE)
    client.force_login(platform_admin)
    text = b"".join(client.get(reverse("api:audit-export")).streaming_content).decode()
    assert "'=HYPERLINK" in text
    assert [neutralise(value) for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "plain", None)] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\t=1",
        "plain",
        "",
    ]


def test_the_export_reads_in_chunks(monkeypatch, client, tenant_a, platform_admin):
    from tenants import timeline

    monkeypatch.setattr(timeline, "CHUNK", 2)
    for number in range(5):
        audit_record(action=f"event {number}", tenant=tenant_a)
    client.force_login(platform_admin)
    response = client.get(reverse("api:audit-export"), {"action": "event"})
    lines = [line for line in b"".join(response.streaming_content).decode().splitlines() if line]
    assert [line.split(",")[4] for line in lines[1:]] == [f"event {number}" for number in range(4, -1, -1)]


def test_a_changes_address_is_the_clients_not_a_forged_header(client, tenant_a, admin_a):
    from auditlog.models import LogEntry

    client.force_login(admin_a)
    client.patch(
        reverse("api:tenant-detail", args=["tenant-a"]),
        {"name": "Renamed"},
        content_type="application/json",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        REMOTE_ADDR="192.0.2.44",
    )
    assert LogEntry.objects.get_for_object(tenant_a).latest().remote_addr == "192.0.2.44"


def test_a_tenants_guest_grants_and_group_mappings_are_in_its_timeline(client, tenant_a, tenant_b, server_a, admin_a):
    from accounts.models import GroupMapping, OidcProvider
    from tests.conftest import make_user
    from vms.services import guest_grant_set

    guest_grant_set(user=make_user("customer"), server=server_a, vmid=100, console=True)
    provider = OidcProvider(name="Acme SSO", slug="acme-sso", issuer="http://127.0.0.1:9", client_id="nexus")
    provider.client_secret = "secret"
    provider.save()  # the platform's, in no tenant's timeline
    GroupMapping.objects.create(provider=provider, group="it", tenant=tenant_a, role="viewer")
    GroupMapping.objects.create(provider=provider, group="it", tenant=tenant_b, role="viewer")
    client.force_login(admin_a)
    actions = [(row["action"], row["tenant"]) for row in rows(client, action="created")["results"]]
    assert ("guest grant created", "tenant-a") in actions and ("group mapping created", "tenant-a") in actions
    assert actions.count(("group mapping created", "tenant-a")) == 1
    assert not any("provider" in action for action, _ in actions)
