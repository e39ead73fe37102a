"""The simulator's REST API answers as Proxmox VE does."""

import time

import pytest
import requests

from tests.pve_schema import endpoints, match_template, require_schema


def test_a_call_without_token_is_401_with_reason_and_no_body(pve, ca_file):
    response = requests.get(pve.base_url + "/version", verify=str(ca_file), timeout=5)
    assert response.status_code == 401
    assert response.reason == "No ticket"
    assert response.content == b""


def test_a_wrong_secret_is_401(api, pve):
    response = api.with_token(pve.token_id, "not-the-secret").get("/version")
    assert response.status_code == 401
    assert response.reason == "authentication failure"


def test_the_token_header_splits_at_the_last_equals_sign(api, pve):
    pve.add_token("robot@pve!a=b", "secret")
    assert api.with_token("robot@pve!a=b", "secret").get("/version").status_code == 200


def test_version_has_the_schema_fields(api):
    assert set(api.data("get", "/version")) == {"version", "release", "repoid"}


def test_an_unknown_path_is_501_not_implemented(api):
    response = api.get("/foo")
    assert response.status_code == 501
    assert response.json() == {"data": None, "message": "Method 'GET /foo' not implemented"}


def test_nodes_report_their_certificate_fingerprint(api, pve):
    nodes = {node["node"]: node for node in api.data("get", "/nodes")}
    assert set(nodes) == {"pve1", "pve2", "pve3"}
    assert nodes["pve1"]["ssl_fingerprint"] == pve.fingerprint
    assert nodes["pve1"]["status"] == "online"
    assert {"cpu", "maxcpu", "mem", "maxmem", "uptime"} <= set(nodes["pve1"])


def test_cluster_resources_lists_every_guest_in_one_call(api):
    guests = api.data("get", "/cluster/resources", type="vm")
    by_id = {guest["id"]: guest for guest in guests}
    assert {"qemu/100", "qemu/9000", "lxc/200"} <= set(by_id)
    web = by_id["qemu/100"]
    assert web["vmid"] == 100 and web["node"] == "pve1" and web["type"] == "qemu"
    assert web["status"] == "running" and web["template"] == 0 and web["tags"] == "prod;web"
    assert by_id["qemu/9000"]["template"] == 1
    assert {"cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "uptime", "netin", "netout"} <= set(web)


def test_cluster_resources_without_a_type_includes_nodes(api):
    types = {entry["type"] for entry in api.data("get", "/cluster/resources")}
    assert {"qemu", "lxc", "node", "storage"} <= types


def test_guests_without_vm_audit_are_left_out_silently(api, pve):
    pve.add_token("viewer@pve!one", "secret", {"/vms/100": {"VM.Audit"}})
    viewer = api.with_token("viewer@pve!one", "secret")
    assert [guest["vmid"] for guest in viewer.data("get", "/cluster/resources", type="vm")] == [100]
    assert [guest["vmid"] for guest in viewer.data("get", "/nodes/pve1/qemu")] == [100]
    assert viewer.data("get", "/nodes/pve2/lxc") == []


def test_a_missing_privilege_is_403_with_path_and_privilege(api, pve):
    pve.add_token("viewer@pve!audit", "secret", {"VM.Audit"})
    response = api.with_token("viewer@pve!audit", "secret").post("/nodes/pve1/qemu/100/status/stop")
    assert response.status_code == 403
    assert response.json()["message"] == "Permission check failed (/vms/100, VM.PowerMgmt)\n"
    assert response.reason == "Permission check failed (/vms/100, VM.PowerMgmt)"


def test_access_permissions_show_the_effective_rights(api, pve):
    pve.add_token("viewer@pve!perm", "secret", {"/vms/100": {"VM.Audit", "VM.Console"}})
    viewer = api.with_token("viewer@pve!perm", "secret")
    assert viewer.data("get", "/access/permissions") == {"/vms/100": {"VM.Audit": 1, "VM.Console": 1}}
    assert viewer.data("get", "/access/permissions", path="/vms/101") == {"/vms/101": {}}
    assert "VM.PowerMgmt" in api.data("get", "/access/permissions")["/"]


def test_node_lists_hold_only_that_nodes_guests(api):
    assert [guest["vmid"] for guest in api.data("get", "/nodes/pve1/qemu")] == [100, 102, 9000]
    containers = api.data("get", "/nodes/pve2/lxc")
    assert [(ct["vmid"], ct["name"], ct["status"]) for ct in containers] == [(200, "dns-ct", "running")]


def test_status_current_reports_qmpstatus_and_live_figures(api):
    status = api.data("get", "/nodes/pve1/qemu/100/status/current")
    assert status["status"] == "running" and status["qmpstatus"] == "running"
    assert status["ha"] == {"managed": 0}
    assert 0 < status["cpu"] < 1 and 0 < status["mem"] <= status["maxmem"]
    stopped = api.data("get", "/nodes/pve1/qemu/102/status/current")
    assert stopped["status"] == "stopped" and stopped["qmpstatus"] == "stopped" and stopped["cpu"] == 0


def test_a_guest_asked_for_on_the_wrong_node_does_not_exist(api):
    response = api.get("/nodes/pve2/qemu/100/status/current")
    assert response.status_code == 500
    assert response.json()["message"] == "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist\n"


def test_an_unknown_node_fails_like_a_hostname_lookup(api):
    response = api.get("/nodes/nope/qemu")
    assert response.status_code == 500
    assert "hostname lookup 'nope' failed" in response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "params", "field", "message"),
    [
        ("get", "/nodes/pve1/qemu/abc/status/current", {}, "vmid", "type check ('integer') failed - got 'abc'"),
        ("get", "/nodes/pve1/qemu/99/status/current", {}, "vmid", "value must have a minimum value of 100"),
        (
            "get",
            "/cluster/resources",
            {"type": "bogus"},
            "type",
            "value 'bogus' does not have a value in the enumeration 'vm, storage, node, sdn'",
        ),
        (
            "post",
            "/nodes/pve1/qemu/100/status/start",
            {"bogus": "1"},
            "bogus",
            "property is not defined in schema and the schema does not allow additional properties",
        ),
        (
            "get",
            "/nodes/pve1/qemu/100/vncwebsocket",
            {"port": "6000", "vncticket": "x"},
            "port",
            "value must have a maximum value of 5999",
        ),
        (
            "get",
            "/nodes/pve1/qemu/100/vncwebsocket",
            {"port": "5900"},
            "vncticket",
            "property is missing and it is not optional",
        ),
    ],
)
def test_bad_parameters_are_400_with_an_error_per_parameter(api, method, path, params, field, message):
    response = getattr(api, method)(path, **params)
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Parameter verification failed.\n"
    assert body["errors"] == {field: message}


def test_cpu_figures_drift_over_time(pve):
    guest = pve.guest(100)
    figures = {guest.usage()["cpu"]}
    deadline = time.monotonic() + 5
    while len(figures) == 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        figures.add(guest.usage()["cpu"])
    assert len(figures) > 1


def _fields(returns: dict) -> set[str] | None:
    if returns.get("type") == "array":
        returns = returns.get("items", {})
    properties = returns.get("properties")
    return set(properties) if properties else None


def test_every_path_and_field_served_exists_in_the_proxmox_schema(api):
    schema = require_schema()
    calls = [
        ("GET", "/version", {}),
        ("GET", "/nodes", {}),
        ("GET", "/cluster/resources", {}),
        ("GET", "/nodes/pve1/qemu", {"full": 1}),
        ("GET", "/nodes/pve2/lxc", {}),
        ("GET", "/nodes/pve1/qemu/100/status/current", {}),
        ("GET", "/nodes/pve2/lxc/200/status/current", {}),
        ("POST", "/nodes/pve1/qemu/100/vncproxy", {"websocket": 1}),
        ("POST", "/nodes/pve2/lxc/200/termproxy", {}),
        ("POST", "/nodes/pve1/qemu/102/status/start", {}),
    ]
    for method, path, params in calls:
        template, _ = match_template(schema, path, method)
        info = endpoints(schema)[template][method]
        assert set(params) <= set(info["parameters"].get("properties", {})), path
        data = api.data(method.lower(), path, **params)
        allowed = _fields(info["returns"])
        if allowed is None:
            continue
        for item in data if isinstance(data, list) else [data]:
            assert set(item) <= allowed, (path, set(item) - allowed)
    upid = api.data("post", "/nodes/pve1/qemu/100/status/reset")
    task_calls = [
        (f"/nodes/pve1/tasks/{upid}/status", {}),
        (f"/nodes/pve1/tasks/{upid}/log", {"start": 0, "limit": 10}),
        ("/nodes/pve1/tasks", {"vmid": 100, "source": "all", "limit": 5}),
    ]
    for path, params in task_calls:
        template, _ = match_template(schema, path, "GET")
        info = endpoints(schema)[template]["GET"]
        assert set(params) <= set(info["parameters"].get("properties", {})), path
        data = api.data("get", path, **params)
        allowed = _fields(info["returns"])
        for item in data if isinstance(data, list) else [data]:
            assert set(item) <= allowed, (path, set(item) - allowed)
