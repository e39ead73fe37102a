"""servers.proxmox.validation: the API explorer reads the GET paths of Proxmox's schema with the parameters it gives
them, never the few that read more than metadata, and nothing else."""

import pytest
from responses import matchers

from servers import proxmox
from servers.proxmox import InvalidRequest, validation
from tests.servers.proxmox.conftest import UPID, ok


@pytest.mark.parametrize(
    "path",
    [
        "/version",
        "/nodes/pve/qemu/100/status/current",
        "/cluster/resources",
        f"/nodes/pve/tasks/{UPID}/log",
        "/access/users/nexus@pve",
        "/nodes/pve/syslog",
    ],
)
def test_api_get_reads_paths_of_the_schema(api, client, path):
    ok(api, "GET", path, {"ok": 1})
    assert client.api_get(path) == {"ok": 1}


@pytest.mark.parametrize(
    "path",
    [
        "/nodes/../access/users",
        "/nodes/pve/qemu/100/status/../../../../access",
        "/nodes/pve/qemu/100/status/current?type=x",
        "/nodes/pve/qemu/100/status/current#x",
        "/nodes/pve%2F..%2Faccess/qemu",
        "/nodes/pve/qemu/100/status/current/",
        "/nodes/pve/qemu/100/does-not-exist",
        "/nodes/pve/qemu/100/agent/FILE-READ",
        "//version",
        "version",
        "https://evil.example.com/version",
        "/nodes/pve/qemu/100/status/current\r\nX: y",
        "/nodes/ /qemu",
    ],
)
def test_api_get_refuses_anything_else_without_sending(api, client, path):
    with pytest.raises(InvalidRequest, match="not a readable Proxmox API path"):
        client.api_get(path)
    assert len(api.calls) == 0


# Every GET path the project notes name as reading far more than metadata.
READS_MORE_THAN_METADATA = [
    ("/nodes/pve/qemu/100/agent/file-read", {"file": "/etc/shadow"}, "any file inside the guest"),
    ("/nodes/pve/qemu/100/agent/exec-status", {"pid": "1"}, "output of commands"),
    ("/nodes/pve/storage/pbs/file-restore/list", {"volume": "v", "filepath": "/"}, "out of backups"),
    ("/nodes/pve/storage/pbs/file-restore/download", {"volume": "v", "filepath": "/"}, "out of backups"),
    ("/nodes/pve/vzdump/extractconfig", {"volume": "v"}, "backed-up guest's configuration"),
    ("/cluster/acme/plugins", {}, "DNS providers' API credentials"),
    ("/cluster/acme/plugins/cloudflare", {}, "DNS providers' API credentials"),
    ("/access/tfa", {}, "second factors"),
    ("/access/tfa/root@pam", {}, "second factors"),
    ("/access/tfa/root@pam/totp0", {}, "second factors"),
    ("/access/users/root@pam/tfa", {}, "second factors"),
    ("/access/users/root@pam/token", {}, "API tokens"),
    ("/access/users/root@pam/token/broker", {}, "API tokens"),
]


@pytest.mark.parametrize("path, params, why", READS_MORE_THAN_METADATA)
def test_paths_that_read_more_than_metadata_are_refused_with_the_reason(api, client, path, params, why):
    with pytest.raises(InvalidRequest, match="never read through the explorer") as refused:
        client.api_get(path, params)
    assert why in refused.value.message
    assert not proxmox.is_allowed_get_path(path)
    assert len(api.calls) == 0


def test_the_refused_paths_are_in_the_schema_and_out_of_the_allow_list():
    refused = {endpoint.path for endpoint in proxmox.get_endpoints() if endpoint.refused_because}
    assert len(refused) == len(READS_MORE_THAN_METADATA)
    for path, _, _ in READS_MORE_THAN_METADATA:
        endpoint, _ = validation.find_get_endpoint(path)
        assert endpoint.path in refused


def test_node_logs_are_readable_but_marked_as_node_logs():
    for path in ("/nodes/pve/syslog", "/nodes/pve/journal"):
        endpoint, _ = proxmox.check_get(path)
        assert endpoint.node_log
    assert not proxmox.check_get("/nodes/pve/status")[0].node_log


def test_api_get_encodes_params_so_they_cannot_inject(api, client):
    sent = {"typefilter": "a&b", "errors": "1"}
    ok(api, "GET", "/nodes/pve/tasks", [], match=[matchers.query_param_matcher(sent)])
    assert client.api_get("/nodes/pve/tasks", {"typefilter": "a&b", "errors": True}) == []
    with pytest.raises(InvalidRequest):
        client.api_get("/cluster/resources", {"type=x&y": "1"})
    with pytest.raises(InvalidRequest):
        client.api_get("/cluster/resources", {"type": "vm\r\n"})


@pytest.mark.parametrize(
    "path, params, complaint",
    [
        ("/cluster/resources", {"type": "everything"}, "type must be one of vm, storage, node, sdn"),
        ("/cluster/resources", {"full": "1"}, "has no parameter 'full' (it takes: type)"),
        ("/nodes/pve/qemu/100/rrddata", {}, "needs the parameter timeframe"),
        ("/nodes/pve/qemu/99/status/current", {}, "vmid must be from 100 to 999999999"),
        ("/nodes/pve/qemu/abc/status/current", {}, "vmid must be a whole number"),
        ("/nodes/pve/syslog", {"limit": "many"}, "limit must be a whole number"),
        ("/nodes/pve/syslog", {"since": "yesterday"}, "since does not have the form Proxmox expects"),
        ("/nodes/pve/tasks", {"errors": "yes"}, "errors must be 0 or 1"),
        ("/nodes/pve/qemu/100/status/current", {"node": "other"}, "has no parameter 'node'"),
    ],
)
def test_parameters_are_checked_against_the_schema_before_anything_is_sent(api, client, path, params, complaint):
    with pytest.raises(InvalidRequest) as refused:
        client.api_get(path, params)
    assert complaint in refused.value.message
    assert len(api.calls) == 0


def test_parameters_that_fit_the_schema_are_sent(api, client):
    expected = {"timeframe": "hour", "cf": "AVERAGE"}
    ok(api, "GET", "/nodes/pve/qemu/100/rrddata", [], match=[matchers.query_param_matcher(expected)])
    assert client.api_get("/nodes/pve/qemu/100/rrddata", {"timeframe": "hour", "cf": "AVERAGE"}) == []


def test_perl_patterns_of_the_schema_are_understood():
    userid = proxmox.check_get("/access/permissions")[0].parameters["userid"]
    assert validation.value_problem("nexus@pve!broker", userid) == ""
    assert validation.value_problem("nexus", userid) != ""


def test_a_concrete_path_fills_its_endpoint():
    endpoint, values = validation.find_get_endpoint("/nodes/pve1/lxc/200/status/current")
    assert endpoint.path == "/nodes/{node}/lxc/{vmid}/status/current"
    assert values == {"node": "pve1", "vmid": "200"}
    assert endpoint.fill(values) == "/nodes/pve1/lxc/200/status/current"
    assert endpoint.placeholders == ("node", "vmid")


def test_the_get_path_list_covers_the_api_explorer():
    assert proxmox.is_allowed_get_path("/nodes/pve/lxc/200/status/current")
    assert not proxmox.is_allowed_get_path("/nodes/pve/qemu/100/status/start")


def test_the_api_explorer_reads_schema_paths(pve_client):
    assert pve_client.api_get("/nodes/pve1/qemu/100/status/current")["vmid"] == 100
