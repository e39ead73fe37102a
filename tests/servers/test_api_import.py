"""servers/import/: a CSV file of servers. A dry run checks every row (and, asked to, tests each row's connection,
all at once); a real import saves every row in one transaction or none; every problem comes with its line."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from servers import imports, services
from servers.models import ProxmoxServer
from tests.conftest import make_server
from tests.servers.proxmox.conftest import free_port

HEADER = "name,host,port,token_id,token_secret,tls_mode,fingerprint,connection_timeout"
WRONG_SECRET = "0e2f3c4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def row(pve, name, **changes) -> str:
    values = {**pve.connection_settings(), "name": name, "connection_timeout": 2, **changes}
    return ",".join(str(values[column]) for column in HEADER.split(","))


def csv_file(*rows, header=HEADER, delimiter=",", bom=False) -> SimpleUploadedFile:
    text = "\r\n".join([header.replace(",", delimiter), *(r.replace(",", delimiter) for r in rows)]) + "\r\n"
    return SimpleUploadedFile("servers.csv", (("\ufeff" if bom else "") + text).encode(), content_type="text/csv")


def upload(client, file, **fields):
    return client.post(reverse("api:server-import"), {"file": file, **fields})


def by_line(answer) -> dict[int, dict]:
    return {r["line"]: r for r in answer["rows"]}


def test_a_dry_run_checks_every_row_and_changes_nothing(client, manager_a, pve):
    client.force_login(manager_a)
    response = upload(client, csv_file(row(pve, "pve-1"), row(pve, "pve-2")), dry_run="true")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["dry_run"] and answer["ok"] and answer["imported"] == 0
    assert [(r["line"], r["name"], r["ok"], r["probe"]) for r in answer["rows"]] == [
        (2, "pve-1", True, None),
        (3, "pve-2", True, None),
    ]
    assert not ProxmoxServer.objects.exists()


def test_a_dry_run_with_probes_tests_each_row_at_once(client, manager_a, pve, monkeypatch):
    all_at_once = threading.Barrier(3, timeout=10)  # passes only while the three tests run together
    real_test = services.server_connection_test

    def test_together(**kwargs):
        all_at_once.wait()
        return real_test(**kwargs)

    monkeypatch.setattr(services, "server_connection_test", test_together)
    client.force_login(manager_a)
    rows = [row(pve, "healthy"), row(pve, "wrong-token", token_secret=WRONG_SECRET), row(pve, "gone", port=free_port())]
    answer = upload(client, csv_file(*rows), dry_run="true", probe="true").json()
    probes = {r["name"]: r["probe"] for r in answer["rows"]}
    assert probes["healthy"]["outcome"] == "warning" and probes["healthy"]["response_time_ms"] is not None
    assert probes["wrong-token"]["outcome"] == "failed" and "refused the API token" in probes["wrong-token"]["message"]
    assert probes["gone"]["outcome"] == "failed" and "onnection refused" in probes["gone"]["message"]
    assert [step["step"] for step in probes["healthy"]["steps"]] == ["connect", "tls", "token", "version", "privileges"]
    assert answer["ok"]  # the rows are valid; whether their servers answer now is for the user to judge
    assert WRONG_SECRET not in str(answer) and pve.token_secret not in str(answer)


def test_a_real_import_saves_every_row_and_checks_them(
    client, manager_a, tenant_a, pve, monkeypatch, django_capture_on_commit_callbacks
):
    announced = []
    monkeypatch.setattr(services, "server_connection_announce", lambda server_id: announced.append(server_id))
    client.force_login(manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, csv_file(row(pve, "pve-1"), row(pve, "pve-2", tls_mode="")))
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["imported"] == 2 and [s["name"] for s in answer["servers"]] == ["pve-1", "pve-2"]
    servers = ProxmoxServer.objects.filter(tenant=tenant_a).order_by("name")
    assert [(s.name, s.tls_mode, s.created_by, s.token_secret) for s in servers] == [
        ("pve-1", "fingerprint", manager_a, pve.token_secret),
        ("pve-2", "fingerprint", manager_a, pve.token_secret),  # a fingerprint and no mode: it is pinned
    ]
    assert "token_secret" not in response.content.decode()
    assert announced == [server.pk for server in servers]  # each one's first health check is queued
    event = AuditEvent.objects.get(action="servers imported")
    assert event.actor == manager_a and event.details == {"servers": ["pve-1", "pve-2"]}


def test_bad_rows_are_reported_with_their_lines_and_nothing_is_imported(client, manager_a, pve):
    client.force_login(manager_a)
    rows = [
        row(pve, "good"),
        row(pve, "bad-host", host="https://pve"),
        row(pve, "bad-secret", token_secret="has space"),
        row(pve, "bad-port", port="eighty"),
        "short,row",
    ]
    response = upload(client, csv_file(*rows))
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "invalid_import" and "nothing was imported" in answer["detail"]
    lines = by_line(answer)
    assert lines[2]["ok"] and not any(lines[n]["ok"] for n in (3, 4, 5, 6))
    assert "without a scheme" in lines[3]["errors"]["host"][0]
    assert "spaces or line breaks" in lines[4]["errors"]["token_secret"][0]
    assert lines[5]["errors"]["port"] == ["Give a whole number."]
    assert "fields where the header has" in lines[6]["errors"]["__all__"][0]
    assert "has space" not in response.content.decode()
    assert not ProxmoxServer.objects.exists()


def test_names_repeated_in_the_file_or_taken_in_the_tenant_are_refused(client, manager_a, tenant_a, pve):
    make_server(tenant_a, "taken")
    client.force_login(manager_a)
    answer = upload(client, csv_file(row(pve, "twin"), row(pve, "twin"), row(pve, "taken")), dry_run="true").json()
    lines = by_line(answer)
    assert lines[2]["ok"]
    assert lines[3]["errors"]["name"] == ["Line 2 already names twin."]
    assert lines[4]["errors"]["name"] == ["Tenant A already has a server named taken."]
    assert not answer["ok"]


def test_the_tenants_limit_counts_the_whole_file(client, manager_a, tenant_a, pve):
    tenant_a.max_servers = 2
    tenant_a.save()
    make_server(tenant_a, "existing")
    client.force_login(manager_a)
    for dry_run in ("true", "false"):
        response = upload(client, csv_file(row(pve, "one"), row(pve, "two")), dry_run=dry_run)
        problems = response.json()["problems"]
        assert problems == ["Tenant A has 1 of its at most 2 servers: room for 1 more, and the file adds 2."]
        assert all(r["ok"] for r in response.json()["rows"])  # the rows themselves are fine
    assert response.status_code == 400
    assert ProxmoxServer.objects.count() == 1


def test_a_failure_while_saving_changes_nothing(client, manager_a, pve, monkeypatch):
    real_save = services._save
    saved = []

    def save_then_fail(server, **kwargs):
        if saved:
            raise ValidationError({"name": ["taken a moment ago"]})
        saved.append(server.name)
        real_save(server, **kwargs)

    monkeypatch.setattr(services, "_save", save_then_fail)
    client.force_login(manager_a)
    response = upload(client, csv_file(row(pve, "first"), row(pve, "second")))
    assert response.status_code == 400 and saved == ["first"]
    assert not ProxmoxServer.objects.exists()  # the first row went with the second


@pytest.mark.parametrize("bom, delimiter", [(True, ","), (False, ";"), (True, ";")])
def test_a_byte_order_mark_and_semicolons_are_understood(client, manager_a, pve, bom, delimiter):
    client.force_login(manager_a)
    response = upload(client, csv_file(row(pve, "pve-1"), bom=bom, delimiter=delimiter))
    assert response.status_code == 201, response.content
    assert ProxmoxServer.objects.get().name == "pve-1"


def test_an_oversized_file_is_refused_with_a_clear_error(client, manager_a):
    client.force_login(manager_a)
    big = SimpleUploadedFile("servers.csv", b"#" * (imports.MAX_BYTES + 10), content_type="text/csv")
    response = upload(client, big)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The file is 1024 KiB; at most 1024 KiB are accepted. Split it.",
        "code": "file_too_large",
    }


def test_a_file_that_is_no_csv_of_servers_is_refused(client, manager_a):
    client.force_login(manager_a)
    response = upload(client, csv_file("a,b", header="colour,size"))
    assert response.status_code == 400 and response.json()["code"] == "bad_header"
    assert upload(client, "").status_code == 400  # no file at all


def test_the_tenant_is_chosen_as_for_one_server(client, platform_admin, manager_a, tenant_a, tenant_b, pve):
    client.force_login(platform_admin)
    assert "Choose the tenant" in upload(client, csv_file(row(pve, "x"))).json()["errors"]["tenant"][0]
    assert upload(client, csv_file(row(pve, "x")), tenant="tenant-b").status_code == 201
    assert ProxmoxServer.objects.get().tenant == tenant_b
    client.force_login(manager_a)
    assert upload(client, csv_file(row(pve, "y")), tenant="tenant-b").status_code == 404
