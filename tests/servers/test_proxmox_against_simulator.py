"""servers.proxmox against the Proxmox VE simulator: real HTTPS, real TLS, real WebSockets."""

import logging
import socket
import time

import pytest

from servers import proxmox
from servers.proxmox import (
    AuthenticationFailed,
    Connection,
    NotFound,
    PermissionDenied,
    ProxmoxAPIError,
    ProxmoxClient,
    TimedOut,
    TLSFailure,
    Unreachable,
)
from servers.pvesim import Simulator

VM_USER = {"VM.Audit", "VM.PowerMgmt", "VM.Console"}


def connect(pve, **overrides) -> Connection:
    return Connection(**{**pve.connection_settings(), "timeout": 5.0, **overrides})


@pytest.fixture
def client(pve):
    with ProxmoxClient(connect(pve)) as client:
        yield client


def wait_for_task(client, node, upid, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.task_status(node, upid)
        if status["status"] == "stopped":
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {upid} still running after {seconds} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------------------- reads


def test_it_reads_version_nodes_and_guests(client):
    assert client.version()["release"]
    assert {node["node"] for node in client.nodes()} >= {"pve1"}
    guests = {guest["vmid"]: guest for guest in client.guests()}
    assert guests[100]["type"] == "qemu" and guests[200]["type"] == "lxc"


def test_it_reads_a_guest_status(client):
    assert client.guest_status("pve1", "qemu", 100)["status"] == "running"
    assert client.guest_status("pve2", "lxc", 200)["status"] == "running"


def test_the_api_explorer_reads_schema_paths(client):
    assert client.api_get("/nodes/pve1/qemu/100/status/current")["vmid"] == 100


def test_a_full_access_token_is_reported_as_far_more_than_needed(client):
    report = client.token_privilege_report()
    assert not report.missing
    assert report.far_more_than_needed


def test_a_vm_user_token_has_just_what_is_needed(pve):
    pve.add_token("nexus@pve!broker", "vm-user-secret", VM_USER)
    with ProxmoxClient(connect(pve, token_id="nexus@pve!broker", token_secret="vm-user-secret")) as client:
        report = client.token_privilege_report()
    assert report.ok, report.summary


# ------------------------------------------------------------------------------------------------------- actions


def test_a_power_action_returns_a_task_that_finishes(pve, client):
    pve.set_guest_status(102, "stopped")
    upid = client.power("pve1", "qemu", 102, "start")
    assert upid.startswith("UPID:pve1:") and upid.endswith(":") and len(upid.split(":")) == 9
    assert wait_for_task(client, "pve1", upid)["exitstatus"] == "OK"
    assert client.guest_status("pve1", "qemu", 102)["status"] == "running"


def test_vncproxy_and_termproxy_issue_tickets(client):
    vnc = client.vncproxy("pve1", "qemu", 100)
    assert vnc["ticket"].startswith("PVEVNC:") and 5900 <= int(vnc["port"]) <= 5999
    term = client.termproxy("pve2", "lxc", 200)
    assert term["ticket"] and term["user"]


# -------------------------------------------------------------------------------------------------------- errors


def test_a_wrong_secret_is_an_authentication_failure(pve):
    with ProxmoxClient(connect(pve, token_secret="not-the-secret")) as client:
        with pytest.raises(AuthenticationFailed) as caught:
            client.version()
    assert "not-the-secret" not in caught.value.message


def test_a_missing_privilege_names_path_and_privilege(pve):
    pve.add_token("nexus@pve!viewer", "viewer-secret", {"VM.Audit"})
    with ProxmoxClient(connect(pve, token_id="nexus@pve!viewer", token_secret="viewer-secret")) as client:
        with pytest.raises(PermissionDenied) as caught:
            client.power("pve1", "qemu", 100, "stop")
    assert "VM.PowerMgmt" in caught.value.proxmox_message
    assert "/vms/100" in caught.value.proxmox_message


def test_an_unknown_guest_is_not_found(client):
    with pytest.raises(NotFound):
        client.guest_status("pve1", "qemu", 99999)


def test_a_refused_action_carries_the_proxmox_message(client):
    with pytest.raises(ProxmoxAPIError, match="already running"):
        client.power("pve1", "qemu", 100, "start")


def test_a_server_error_is_an_api_error(pve, client):
    pve.faults.http_500 = True
    with pytest.raises(ProxmoxAPIError) as caught:
        client.version()
    assert caught.value.status == 500


def test_a_hanging_server_times_out(pve):
    pve.faults.hang = True
    with ProxmoxClient(connect(pve, timeout=0.5)) as client:
        with pytest.raises(TimedOut):
            client.version()


def test_a_closed_port_is_unreachable(pve):
    with ProxmoxClient(connect(pve, port=free_port())) as client:
        with pytest.raises(Unreachable):
            client.version()


def test_an_unknown_host_is_unreachable(pve):
    with ProxmoxClient(connect(pve, host="pve.nonexistent.invalid", timeout=2)) as client:
        with pytest.raises(Unreachable, match="resolve"):
            client.version()


# ----------------------------------------------------------------------------------------------------------- TLS


def test_the_pinned_fingerprint_is_accepted(client):
    assert client.version()


def test_a_wrong_fingerprint_is_refused_naming_both(pve):
    wrong = ":".join(["AB"] * 32)
    with ProxmoxClient(connect(pve, fingerprint=wrong)) as client:
        with pytest.raises(TLSFailure) as caught:
            client.version()
    assert wrong in caught.value.message
    assert pve.fingerprint in caught.value.message


def test_a_rotated_certificate_breaks_the_pin_but_not_the_ca(pve):
    old = pve.fingerprint
    pve.rotate_certificate()
    with ProxmoxClient(connect(pve, fingerprint=old)) as client:
        with pytest.raises(TLSFailure, match=pve.fingerprint):
            client.version()
    with ProxmoxClient(connect(pve, tls_mode="ca", ca_pem=pve.ca_pem, fingerprint="")) as client:
        assert client.version()


def test_the_cluster_ca_is_accepted(pve):
    with ProxmoxClient(connect(pve, tls_mode="ca", ca_pem=pve.ca_pem, fingerprint="")) as client:
        assert client.version()


def test_system_trust_refuses_the_self_signed_cluster_ca(pve):
    with ProxmoxClient(connect(pve, tls_mode="system", fingerprint="")) as client:
        with pytest.raises(TLSFailure, match="not trusted"):
            client.version()


def test_the_presented_fingerprint_can_be_fetched_for_trust_on_first_use(pve):
    assert proxmox.fetch_fingerprint(pve.host, pve.port, 5) == pve.fingerprint
    with pytest.raises(Unreachable):
        proxmox.fetch_fingerprint("127.0.0.1", free_port(), 2)


# --------------------------------------------------------------------------------------------- secret hygiene


def test_the_secret_never_reaches_the_logs(pve, client, caplog):
    caplog.set_level(logging.DEBUG)
    client.guests()
    pve.faults.http_500 = True
    with pytest.raises(ProxmoxAPIError):
        client.guests()
    assert pve.token_secret not in caplog.text


# --------------------------------------------------------------------------------------------------- console


async def test_the_console_websocket_reaches_the_rfb_banner(pve, caplog):
    caplog.set_level(logging.DEBUG)
    conn = connect(pve)
    with ProxmoxClient(conn) as client:
        offer = client.vncproxy("pve1", "qemu", 100)
    ws = await proxmox.open_vnc_websocket(conn, "pve1", "qemu", 100, port=int(offer["port"]), ticket=offer["ticket"])
    try:
        assert ws.subprotocol == "binary"
        banner = await ws.recv()
    finally:
        await ws.close()
    assert banner.startswith(b"RFB 003.00")
    assert pve.token_secret not in caplog.text


async def test_the_console_websocket_through_the_cluster_ca(pve):
    conn = connect(pve, tls_mode="ca", ca_pem=pve.ca_pem, fingerprint="")
    with ProxmoxClient(conn) as client:
        offer = client.vncproxy("pve2", "lxc", 200, width=1024, height=768)
    ws = await proxmox.open_vnc_websocket(conn, "pve2", "lxc", 200, port=int(offer["port"]), ticket=offer["ticket"])
    try:
        assert (await ws.recv()).startswith(b"RFB 003.00")
    finally:
        await ws.close()


async def test_a_bad_console_ticket_is_refused(pve):
    conn = connect(pve)
    with ProxmoxClient(conn) as client:
        offer = client.vncproxy("pve1", "qemu", 100)
    with pytest.raises(AuthenticationFailed, match="console ticket"):
        await proxmox.open_vnc_websocket(conn, "pve1", "qemu", 100, port=int(offer["port"]), ticket="PVEVNC:forged")


async def test_a_wrong_pin_refuses_the_console(pve):
    wrong = ":".join(["CD"] * 32)
    with pytest.raises(TLSFailure) as caught:
        await proxmox.open_vnc_websocket(connect(pve, fingerprint=wrong), "pve1", "qemu", 100, port=5900,
                                         ticket="PVEVNC:x")
    assert wrong in caught.value.message and pve.fingerprint in caught.value.message


async def test_system_trust_refuses_the_console_with_a_self_signed_ca(pve):
    with pytest.raises(TLSFailure, match="not trusted"):
        await proxmox.open_vnc_websocket(connect(pve, tls_mode="system", fingerprint=""), "pve1", "qemu", 100,
                                         port=5900, ticket="PVEVNC:x")


# ------------------------------------------------------------------------------------------------------- fan-out


@pytest.fixture(scope="module")
def three_clusters():
    with Simulator(servers=3) as simulator:
        yield simulator.servers


def test_fan_out_returns_on_time_with_one_hanging_server(three_clusters):
    fine, slow, hanging = three_clusters
    for server in three_clusters:
        server.reset()
    slow.faults.latency = 0.3
    hanging.faults.hang = True
    hang_timeout = 1.0
    connections = {
        "fine": connect(fine, timeout=20),
        "slow": connect(slow, timeout=20),
        "hanging": connect(hanging, timeout=hang_timeout),
    }
    started = time.monotonic()
    try:
        results = proxmox.fan_out(connections, lambda client: client.guests())
    finally:
        for server in three_clusters:
            server.reset()
    assert time.monotonic() - started < hang_timeout + 10  # far below the 20 s budget of the others
    assert results["fine"].error is None and results["slow"].error is None
    assert {guest["vmid"] for guest in results["slow"].value} >= {100, 200}
    assert isinstance(results["hanging"].error, TimedOut)
    assert results["hanging"].value is None
