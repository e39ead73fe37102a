"""servers.proxmox.validation: the API explorer reads the GET paths of Proxmox's schema and nothing else."""

import pytest
from responses import matchers

from servers import proxmox
from servers.proxmox import InvalidRequest
from tests.servers.proxmox.conftest import UPID, ok


@pytest.mark.parametrize(
    "path",
    [
        "/version",
        "/nodes/pve/qemu/100/status/current",
        "/cluster/resources",
        f"/nodes/pve/tasks/{UPID}/log",
        "/access/users/nexus@pve/token/broker",
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


def test_api_get_encodes_params_so_they_cannot_inject(api, client):
    ok(api, "GET", "/cluster/resources", [], match=[matchers.query_param_matcher({"type": "vm&x=1", "full": "1"})])
    assert client.api_get("/cluster/resources", {"type": "vm&x=1", "full": True}) == []
    with pytest.raises(InvalidRequest):
        client.api_get("/cluster/resources", {"type=x&y": "1"})
    with pytest.raises(InvalidRequest):
        client.api_get("/cluster/resources", {"type": "vm\r\n"})


def test_the_get_path_list_covers_the_api_explorer():
    assert proxmox.is_allowed_get_path("/nodes/pve/lxc/200/status/current")
    assert not proxmox.is_allowed_get_path("/nodes/pve/qemu/100/status/start")


def test_the_api_explorer_reads_schema_paths(pve_client):
    assert pve_client.api_get("/nodes/pve1/qemu/100/status/current")["vmid"] == 100
