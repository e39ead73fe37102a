"""servers.proxmox.client: exact HTTP shapes with `responses` (no network), and the calls against the simulator."""

import logging
import time
import traceback
from unittest import mock

import pytest
import requests
from responses import matchers

from servers.proxmox import InvalidRequest, ProxmoxAPIError, ProxmoxClient, ProxmoxError
from tests.servers.proxmox.conftest import BASE, SECRET, UPID, make_connection, ok


def wait_for_task(client, node, upid, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.task_status(node, upid)
        if status["status"] == "stopped":
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {upid} still running after {seconds} s")


# ------------------------------------------------------------------------------------------------ request shapes


def test_it_authenticates_with_the_api_token_header(api, client):
    ok(api, "GET", "/version", {"version": "9.1.2", "release": "9.1", "repoid": "0123abcd"})
    client.version()
    request = api.calls[0].request
    assert request.headers["Authorization"] == f"PVEAPIToken=nexus@pve!broker={SECRET}"
    assert request.headers["Accept"] == "application/json"
    assert "CSRFPreventionToken" not in request.headers


def test_it_unwraps_the_data_field(api, client):
    ok(api, "GET", "/version", {"version": "9.1.2", "release": "9.1", "repoid": "0123abcd"})
    assert client.version() == {"version": "9.1.2", "release": "9.1", "repoid": "0123abcd"}


def test_it_lists_every_guest_in_one_call(api, client):
    guests = [{"id": "qemu/100", "vmid": 100, "node": "pve", "type": "qemu", "status": "running"}]
    ok(api, "GET", "/cluster/resources", guests, match=[matchers.query_param_matcher({"type": "vm"})])
    assert client.guests() == guests
    assert len(api.calls) == 1


def test_it_reads_nodes_status_task_and_permissions(api, client):
    ok(api, "GET", "/nodes", [{"node": "pve", "status": "online"}])
    ok(api, "GET", "/nodes/pve/lxc/200/status/current", {"status": "stopped", "vmid": 200})
    ok(api, "GET", f"/nodes/pve/tasks/{UPID}/status", {"status": "stopped", "exitstatus": "OK"})
    ok(api, "GET", "/access/permissions", {"/vms": {"VM.Audit": 1}})
    assert client.nodes() == [{"node": "pve", "status": "online"}]
    assert client.guest_status("pve", "lxc", 200)["status"] == "stopped"
    assert client.task_status("pve", UPID)["exitstatus"] == "OK"
    assert client.permissions() == {"/vms": {"VM.Audit": 1}}


def test_it_uses_the_connection_timeout_for_connect_and_read(api):
    ok(api, "GET", "/version", {})
    with mock.patch.object(requests.Session, "request", wraps=requests.Session().request) as spy:
        with ProxmoxClient(make_connection(timeout=2.5)) as client:
            try:
                client.version()
            except ProxmoxError:
                pass
    assert spy.call_args.kwargs["timeout"] == (2.5, 2.5)


@pytest.mark.parametrize("action", ["start", "stop", "shutdown", "reset", "reboot", "suspend", "resume"])
def test_a_power_action_posts_and_returns_the_upid(api, client, action):
    ok(api, "POST", f"/nodes/pve/qemu/100/status/{action}", UPID)
    assert client.power("pve", "qemu", 100, action) == UPID
    assert api.calls[0].request.method == "POST"


def test_containers_cannot_be_reset_and_nothing_is_sent(api, client):
    with pytest.raises(InvalidRequest, match="cannot be reset"):
        client.power("pve", "lxc", 200, "reset")
    assert len(api.calls) == 0


@pytest.mark.parametrize(
    "args",
    [
        ("pve", "qemu", 100, "destroy"),
        ("pve", "docker", 100, "start"),
        ("pve/../x", "qemu", 100, "start"),
        ("pve", "qemu", 99, "start"),
        ("pve", "qemu", "100", "start"),
    ],
)
def test_invalid_power_requests_are_refused_before_sending(api, client, args):
    with pytest.raises(InvalidRequest):
        client.power(*args)
    assert len(api.calls) == 0


def test_a_power_answer_without_a_task_id_is_an_error(api, client):
    ok(api, "POST", "/nodes/pve/qemu/100/status/start", "done")
    with pytest.raises(ProxmoxAPIError, match="no task id"):
        client.power("pve", "qemu", 100, "start")


def test_vncproxy_always_asks_for_a_websocket(api, client):
    ticket = {"user": "nexus@pve!broker", "ticket": "PVEVNC:ABC", "port": 5900, "upid": UPID, "cert": "x"}
    ok(
        api,
        "POST",
        "/nodes/pve/qemu/100/vncproxy",
        ticket,
        match=[matchers.urlencoded_params_matcher({"websocket": "1"})],
    )
    ok(
        api,
        "POST",
        "/nodes/pve/lxc/200/vncproxy",
        ticket,
        match=[matchers.urlencoded_params_matcher({"websocket": "1", "width": "1024", "height": "2160"})],
    )
    assert client.vncproxy("pve", "qemu", 100, width=1024, height=768) == ticket
    assert client.vncproxy("pve", "lxc", 200, width=1024, height=5000) == ticket


def test_vncproxy_without_a_usable_ticket_is_an_error(api, client):
    ok(api, "POST", "/nodes/pve/qemu/100/vncproxy", {"user": "x", "ticket": "", "port": "nope"})
    with pytest.raises(ProxmoxAPIError, match="usable port"):
        client.vncproxy("pve", "qemu", 100)


def test_termproxy_passes_the_serial_port_for_qemu_only(api, client):
    ticket = {"user": "nexus@pve!broker", "ticket": "PVEVNC:T", "port": 5901, "upid": UPID}
    ok(
        api,
        "POST",
        "/nodes/pve/qemu/100/termproxy",
        ticket,
        match=[matchers.urlencoded_params_matcher({"serial": "serial0"})],
    )
    assert client.termproxy("pve", "qemu", 100, serial="serial0") == ticket
    with pytest.raises(InvalidRequest):
        client.termproxy("pve", "lxc", 200, serial="serial0")
    assert len(api.calls) == 1


# ------------------------------------------------------------------------------------------------------ answers


@pytest.mark.parametrize(
    "kwargs,text",
    [
        ({"body": "<html>login</html>", "content_type": "text/html"}, "not JSON"),
        ({"json": {"success": 1}}, "without a 'data' field"),
        ({"json": ["data"]}, "without a 'data' field"),
        ({"json": {"data": {"node": "pve"}}}, "unexpected shape"),
        ({"json": {"data": ["pve"]}}, "unexpected shape"),
        ({"body": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"}, "not JSON"),
    ],
)
def test_hostile_or_foreign_answers_are_clear_errors(api, client, kwargs, text):
    api.add("GET", BASE + "/nodes", **kwargs)
    with pytest.raises(ProxmoxAPIError, match=text):
        client.nodes()


def test_a_huge_answer_is_refused(api, client, monkeypatch):
    monkeypatch.setattr("servers.proxmox.client.MAX_RESPONSE_BYTES", 1000)
    api.add("GET", BASE + "/nodes", json={"data": [{"node": "x" * 2000}]})
    with pytest.raises(ProxmoxAPIError, match="larger than"):
        client.nodes()


def test_a_huge_declared_length_is_refused_before_reading(api, client):
    api.add(
        "GET",
        BASE + "/nodes",
        body="{}",
        headers={"Content-Length": str(50 * 1024 * 1024)},
        auto_calculate_content_length=False,
    )
    with pytest.raises(ProxmoxAPIError, match="larger than"):
        client.nodes()


# ------------------------------------------------------------------------------------------------ secret hygiene


def test_the_secret_is_never_in_errors_or_logs(api, client, caplog):
    caplog.set_level(logging.DEBUG)
    api.add("GET", BASE + "/version", status=401, json={"data": None})
    api.add("GET", BASE + "/nodes", body=requests.exceptions.ConnectionError("boom"))
    for call in (client.version, client.nodes):
        with pytest.raises(ProxmoxError) as caught:
            call()
        formatted = "".join(traceback.format_exception(caught.value))
        assert SECRET not in formatted
        assert SECRET not in repr(caught.value.args)
    assert SECRET not in caplog.text


# --------------------------------------------------------------------------------------- against the simulator


def test_it_reads_version_nodes_and_guests(pve_client):
    assert pve_client.version()["release"]
    assert {node["node"] for node in pve_client.nodes()} >= {"pve1"}
    guests = {guest["vmid"]: guest for guest in pve_client.guests()}
    assert guests[100]["type"] == "qemu" and guests[200]["type"] == "lxc"


def test_it_reads_a_guest_status(pve_client):
    assert pve_client.guest_status("pve1", "qemu", 100)["status"] == "running"
    assert pve_client.guest_status("pve2", "lxc", 200)["status"] == "running"


def test_a_power_action_returns_a_task_that_finishes(pve, pve_client):
    pve.set_guest_status(102, "stopped")
    upid = pve_client.power("pve1", "qemu", 102, "start")
    assert upid.startswith("UPID:pve1:") and upid.endswith(":") and len(upid.split(":")) == 9
    assert wait_for_task(pve_client, "pve1", upid)["exitstatus"] == "OK"
    assert pve_client.guest_status("pve1", "qemu", 102)["status"] == "running"


def test_vncproxy_and_termproxy_issue_tickets(pve_client):
    vnc = pve_client.vncproxy("pve1", "qemu", 100)
    assert vnc["ticket"].startswith("PVEVNC:") and 5900 <= int(vnc["port"]) <= 5999
    term = pve_client.termproxy("pve2", "lxc", 200)
    assert term["ticket"] and term["user"]


def test_the_secret_never_reaches_the_logs(pve, pve_client, caplog):
    caplog.set_level(logging.DEBUG)
    pve_client.guests()
    pve.faults.http_500 = True
    with pytest.raises(ProxmoxAPIError):
        pve_client.guests()
    assert pve.token_secret not in caplog.text


def test_it_reads_a_tasks_log_and_finds_it_in_the_task_list(pve_client):
    upid = pve_client.power("pve1", "qemu", 102, "start")
    assert pve_client.task_log("pve1", upid)[-1] == {"n": 4, "t": "TASK OK"}
    assert [line["n"] for line in pve_client.task_log("pve1", upid, start=2, limit=1)] == [3]
    (task,) = pve_client.tasks("pve1", vmid=102)
    assert task["upid"] == upid and task["status"] == "OK" and "endtime" in task


def test_a_task_log_with_a_bad_upid_is_refused_before_sending(api, client):
    with pytest.raises(InvalidRequest):
        client.task_log("pve", "UPID:../../etc")
    assert not api.calls
