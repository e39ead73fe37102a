"""servers/{id}/proxmox/{path} and servers/{id}/proxmox-tree/: the read-only Proxmox API explorer. GET paths of
Proxmox's schema only, parameters checked against it, never the paths that read more than metadata, node logs for
tenant admins only, and every read audited."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent


def read(client, server, path, **params):
    return client.get(reverse("api:server-proxmox", args=[server.pk, path]), params)


def last_audit() -> AuditEvent:
    return AuditEvent.objects.filter(action="proxmox api read").latest("created_at")


def test_a_manager_reads_a_path_and_the_read_is_audited(client, manager_a, sim_server):
    client.force_login(manager_a)
    response = read(client, sim_server, "nodes")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["path"] == "/nodes" and answer["params"] == {}
    assert sorted(node["node"] for node in answer["data"]) == ["pve1", "pve2", "pve3"]
    event = last_audit()
    assert (event.actor, event.tenant, event.outcome) == (manager_a, sim_server.tenant, "success")
    assert event.target == "pve-sim: GET /nodes" and event.ip_address == "127.0.0.1"
    assert event.details["path"] == "/nodes" and event.details["server_id"] == sim_server.pk


def test_parameters_go_to_proxmox_as_the_schema_describes_them(client, admin_a, sim_server):
    client.force_login(admin_a)
    answer = read(client, sim_server, "cluster/resources", type="vm").json()
    assert answer["params"] == {"type": "vm"} and {item["type"] for item in answer["data"]} == {"qemu", "lxc"}
    assert read(client, sim_server, "nodes/pve1/qemu/100/status/current").json()["data"]["vmid"] == 100
    assert last_audit().details["params"] == {}


@pytest.mark.parametrize(
    "path, params, words",
    [
        ("nodes/pve1/qemu/100/status/start", {}, "not a readable Proxmox API path"),
        ("nodes/pve1/qemu/100/nothing", {}, "not a readable Proxmox API path"),
        ("nodes/../access/users", {}, "not a readable Proxmox API path"),
        ("nodes/pve1%2F..%2F..%2Faccess", {}, "not a readable Proxmox API path"),
        ("cluster/resources", {"type": "everything"}, "type must be one of"),
        ("cluster/resources", {"full": "1"}, "has no parameter 'full'"),
        ("nodes/pve1/qemu/100/rrddata", {}, "needs the parameter timeframe"),
        ("nodes/pve1/qemu/99/status/current", {}, "vmid must be from 100"),
    ],
)
def test_what_is_not_in_the_schema_is_refused_and_audited(client, manager_a, sim_server, path, params, words):
    client.force_login(manager_a)
    response = read(client, sim_server, path, **params)
    assert response.status_code == 400, response.content
    assert words in response.json()["detail"]
    assert last_audit().outcome == "denied" and words in last_audit().details["reason"]


@pytest.mark.parametrize(
    "path, params",
    [
        ("nodes/pve1/qemu/100/agent/file-read", {"file": "/etc/shadow"}),
        ("nodes/pve1/qemu/100/agent/exec-status", {"pid": "1"}),
        ("nodes/pve1/storage/local/file-restore/list", {"volume": "v", "filepath": "/"}),
        ("nodes/pve1/storage/local/file-restore/download", {"volume": "v", "filepath": "/"}),
        ("nodes/pve1/vzdump/extractconfig", {"volume": "v"}),
        ("cluster/acme/plugins", {}),
        ("cluster/acme/plugins/dns", {}),
        ("access/tfa", {}),
        ("access/users/root@pam/tfa", {}),
        ("access/users/root@pam/token", {}),
        ("access/users/root@pam/token/nexus", {}),
    ],
)
def test_paths_that_read_more_than_metadata_are_refused_even_for_admins(client, admin_a, sim_server, path, params):
    client.force_login(admin_a)
    response = read(client, sim_server, path, **params)
    assert response.status_code == 400
    assert "is never read through the explorer" in response.json()["detail"]
    assert last_audit().outcome == "denied"


def test_node_logs_are_for_tenant_admins(client, manager_a, admin_a, sim_server):
    client.force_login(manager_a)
    response = read(client, sim_server, "nodes/pve1/syslog", limit="10")
    assert response.status_code == 403 and response.json()["code"] == "node_logs_for_admins"
    assert last_audit().outcome == "denied"
    client.force_login(admin_a)
    response = read(client, sim_server, "nodes/pve1/journal")
    assert response.status_code != 403  # the simulator has no journal: Proxmox's answer, not a refusal
    assert last_audit().actor == admin_a and last_audit().details["path"] == "/nodes/pve1/journal"


def test_a_failing_read_is_audited_as_a_failure(client, manager_a, sim_server, pve):
    pve.faults.http_500 = True
    client.force_login(manager_a)
    assert read(client, sim_server, "version").status_code == 502
    assert last_audit().outcome == "failure" and "HTTP 500" in last_audit().details["reason"]


def test_an_inactive_server_is_never_read(client, manager_a, sim_server):
    sim_server.is_active = False
    sim_server.save()
    client.force_login(manager_a)
    response = read(client, sim_server, "version")
    assert response.status_code == 409 and response.json()["code"] == "server_disabled"


def test_the_tree_lists_the_readable_paths_with_their_descriptions(client, manager_a, admin_a, sim_server):
    client.force_login(manager_a)
    tree = client.get(reverse("api:server-proxmox-tree", args=[sim_server.pk])).json()
    roots = {node["path"]: node for node in tree}
    assert {"/cluster", "/nodes", "/access", "/version"} <= set(roots)
    assert roots["/nodes"]["description"] == "Cluster node index."

    def walk(nodes):
        for node in nodes:
            yield node
            yield from walk(node["children"])

    paths = {node["path"]: node for node in walk(tree)}
    assert "/nodes/{node}/qemu/{vmid}/status/current" in paths
    assert paths["/nodes/{node}/qemu"]["label"] == "qemu"
    assert not any("file-read" in path or "/tfa" in path or "acme/plugins" in path for path in paths)
    assert paths["/nodes/{node}/syslog"]["readable"] is False
    client.force_login(admin_a)
    tree = client.get(reverse("api:server-proxmox-tree", args=[sim_server.pk])).json()
    assert {node["path"]: node for node in walk(tree)}["/nodes/{node}/syslog"]["readable"] is True
