"""GET /api/v1/servers/{id}/tasks/{upid}/: a guest's Proxmox task, for those who may see the guest."""

import pytest
from django.urls import reverse

from servers.proxmox import ProxmoxClient
from tests.conftest import make_server, make_user
from vms.services import guest_grant_set


def start(server, vmid=102, node="pve1"):
    with ProxmoxClient(server.connection()) as proxmox:
        return proxmox.power(node, "qemu", vmid, "start")


def task(client, user, server, upid):
    client.force_login(user)
    return client.get(reverse("api:task-detail", args=[server.pk, upid]))


def test_a_finished_task_has_proxmoxs_status_its_end_and_its_log(client, viewer_a, sim_server):
    upid = start(sim_server)
    body = task(client, viewer_a, sim_server, upid).json()
    assert (body["upid"], body["status"], body["exitstatus"], body["type"], body["id"]) == (
        upid,
        "stopped",
        "OK",
        "qmstart",
        "102",
    )
    assert body["endtime"] >= body["starttime"] > 0
    assert [line["t"] for line in body["log"]][-1] == "TASK OK"
    assert (body["server"], body["vmid"], body["action"]) == ({"id": sim_server.pk, "name": "pve-sim"}, 102, "start")


def test_a_running_task_has_no_end_yet(client, viewer_a, sim_server, pve):
    pve.task_delay = 30
    body = task(client, viewer_a, sim_server, start(sim_server)).json()
    assert body["status"] == "running" and body["endtime"] is None and "exitstatus" not in body
    assert body["log"] == [{"n": 1, "t": "starting VM 102 (db-01) on node 'pve1'"}]


def test_a_failed_task_says_why(client, viewer_a, sim_server, pve):
    pve.faults.task_error = "start failed: QEMU exited with code 1"
    body = task(client, viewer_a, sim_server, start(sim_server)).json()
    assert body["exitstatus"] == "start failed: QEMU exited with code 1"
    assert body["log"][-1]["t"] == "TASK ERROR: start failed: QEMU exited with code 1"


@pytest.mark.parametrize(
    "upid",
    [
        "nonsense",
        "UPID:pve1:0000ABCD:00112233:65A0B1C2:qmstart",
        "UPID:pve9:0000ABCD:00112233:65A0B1C2:qmstart:102:root@pam!nexus:",  # no such node
        "UPID:pve1:0000ABCD:00112233:65A0B1C2:aptupdate::root@pam!nexus:",  # about no guest
        "UPID:pve1:0000ABCD:00112233:65A0B1C2:qmstart:102:root@pam!nexus:",  # no such task
    ],
)
def test_a_upid_that_does_not_parse_or_names_no_task_here_is_404(client, manager_a, sim_server, upid):
    assert task(client, manager_a, sim_server, upid).status_code == 404


def test_the_node_must_be_one_of_the_servers(client, manager_a, tenant_a, sim_server, pve):
    other = make_server(tenant_a, "elsewhere", **pve.connection_settings())
    upid = start(sim_server)
    assert task(client, manager_a, other, upid).status_code == 200  # the same cluster
    forged = upid.replace("UPID:pve1:", "UPID:pve4:")
    assert task(client, manager_a, sim_server, forged).status_code == 404


@pytest.mark.parametrize("user", ["outsider", "admin_b"])
def test_other_tenants_do_not_find_the_task(request, client, sim_server, user):
    assert task(client, request.getfixturevalue(user), sim_server, start(sim_server)).status_code == 404


def test_who_holds_single_guests_reads_only_their_tasks(client, sim_server):
    customer = make_user("customer")
    guest_grant_set(user=customer, server=sim_server, vmid=102)
    assert task(client, customer, sim_server, start(sim_server, 102)).status_code == 200
    with ProxmoxClient(sim_server.connection()) as proxmox:
        other = proxmox.power("pve1", "qemu", 100, "reboot")
    assert task(client, customer, sim_server, other).status_code == 404
