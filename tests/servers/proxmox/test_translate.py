"""servers.proxmox.translate: every failure, from an HTTP answer or from the wire, becomes the error that says why."""

import socket
import ssl

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, SSLError
from websockets.exceptions import InvalidMessage

from servers.proxmox import (
    AuthenticationFailed,
    GuestNotRunning,
    NotFound,
    PermissionDenied,
    ProxmoxAPIError,
    ProxmoxClient,
    TimedOut,
    TLSFailure,
    Unreachable,
    translate,
)
from tests.servers.proxmox.conftest import BASE, FINGERPRINT, connect, free_port, make_connection

# ------------------------------------------------------------------------------------------------ HTTP answers


@pytest.mark.parametrize(
    "status,body,error_type,text",
    [
        (401, {"data": None}, AuthenticationFailed, "refused the API token"),
        (
            403,
            {"data": None, "message": "Permission check failed (/vms/100, VM.PowerMgmt)\n"},
            PermissionDenied,
            "Permission check failed (/vms/100, VM.PowerMgmt)",
        ),
        (404, {"data": None}, NotFound, "Not found"),
        (501, {"data": None, "message": "Method 'GET /nodes/x' not implemented"}, NotFound, "not implemented"),
        (
            500,
            {"data": None, "message": "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist\n"},
            NotFound,
            "does not exist",
        ),
        (500, {"data": None, "message": "VM 100 already running\n"}, ProxmoxAPIError, "VM 100 already running"),
        (302, {"data": None}, ProxmoxAPIError, "HTTP 302"),
    ],
)
def test_http_errors_become_typed_errors(api, client, status, body, error_type, text):
    api.add("POST", BASE + "/nodes/pve/qemu/100/status/start", json=body, status=status)
    with pytest.raises(error_type, match=text.replace("(", r"\(").replace(")", r"\)")) as caught:
        client.power("pve", "qemu", 100, "start")
    assert caught.value.status == status
    assert caught.value.message == str(caught.value)


@pytest.mark.parametrize(
    "kind,vmid,message",
    [
        ("qemu", 100, "VM 100 not running\n"),
        ("lxc", 200, "CT 200 not running\n"),
    ],
)
def test_a_guest_that_is_not_running_is_its_own_error(api, client, kind, vmid, message):
    api.add("POST", BASE + f"/nodes/pve/{kind}/{vmid}/vncproxy", status=500, json={"data": None, "message": message})
    with pytest.raises(GuestNotRunning) as caught:
        client.vncproxy("pve", kind, vmid)
    assert isinstance(caught.value, ProxmoxAPIError)
    assert caught.value.status == 500
    assert message.strip() in caught.value.message


def test_a_guest_that_is_already_running_is_not_that_error(api, client):
    api.add(
        "POST",
        BASE + "/nodes/pve/qemu/100/status/start",
        status=500,
        json={"data": None, "message": "VM 100 already running\n"},
    )
    with pytest.raises(ProxmoxAPIError) as caught:
        client.power("pve", "qemu", 100, "start")
    assert not isinstance(caught.value, GuestNotRunning)


def test_permission_denied_carries_the_privilege_text(api, client):
    api.add(
        "GET",
        BASE + "/nodes/pve/qemu/100/status/current",
        status=403,
        json={"data": None, "message": "Permission check failed (/vms/100, VM.Audit)\n"},
    )
    with pytest.raises(PermissionDenied) as caught:
        client.guest_status("pve", "qemu", 100)
    assert caught.value.proxmox_message == "Permission check failed (/vms/100, VM.Audit)"


def test_parameter_errors_keep_each_parameter_message(api, client):
    api.add(
        "POST",
        BASE + "/nodes/pve/lxc/200/vncproxy",
        status=400,
        json={
            "data": None,
            "message": "Parameter verification failed.\n",
            "errors": {"width": "value must have a minimum value of 16\n"},
        },
    )
    with pytest.raises(ProxmoxAPIError) as caught:
        client.vncproxy("pve", "lxc", 200)
    assert caught.value.errors == {"width": "value must have a minimum value of 16"}
    assert "width: value must have a minimum value of 16" in caught.value.message


# ------------------------------------------------------------------------------------------------ the wire


@pytest.mark.parametrize(
    "raised,error_type",
    [
        (requests.exceptions.ConnectTimeout("x"), TimedOut),
        (requests.exceptions.ReadTimeout("x"), TimedOut),
        (
            requests.exceptions.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "refused"))),
            Unreachable,
        ),
        (requests.exceptions.ConnectionError("reset by peer"), Unreachable),
        (
            requests.exceptions.SSLError("certificate verify failed: self-signed certificate in certificate chain"),
            TLSFailure,
        ),
    ],
)
def test_transport_failures_become_typed_errors(api, client, raised, error_type):
    api.add("GET", BASE + "/version", body=raised)
    with pytest.raises(error_type):
        client.version()


UNTRUSTED = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1000)"


@pytest.mark.parametrize(
    "wrapped,bare",
    [
        (
            requests.exceptions.SSLError(MaxRetryError(None, "/", SSLError(UNTRUSTED))),
            ssl.SSLCertVerificationError(1, UNTRUSTED),
        ),
        (requests.exceptions.ReadTimeout("x"), TimeoutError()),
        (
            requests.exceptions.ConnectionError(MaxRetryError(None, "/", NameResolutionError("pve", None, "x"))),
            socket.gaierror(-2, "Name or service not known"),
        ),
    ],
)
def test_a_failure_reads_the_same_from_requests_and_from_a_bare_socket_or_websockets(wrapped, bare):
    from_requests = translate.error_from_failure(wrapped, "pve.example.com", 8006, 5)
    from_socket = translate.error_from_failure(bare, "pve.example.com", 8006, 5)
    assert type(from_requests) is type(from_socket)
    assert from_requests.message == from_socket.message


@pytest.mark.parametrize(
    "raised,error_type,text",
    [
        (ConnectionRefusedError(111, "Connection refused"), Unreachable, "Connection refused"),
        (
            InvalidMessage("did not receive a valid HTTP response"),
            ProxmoxAPIError,
            "did not accept the console WebSocket",
        ),
        (RuntimeError("surprise"), ProxmoxAPIError, "RuntimeError"),
    ],
)
def test_other_failures_of_the_wire_become_typed_errors(raised, error_type, text):
    error = translate.error_from_failure(raised, "pve.example.com", 8006, 5)
    assert type(error) is error_type and text in error.message


def test_a_fingerprint_mismatch_names_both_fingerprints():
    presented = "cd" * 32
    detail = f'Fingerprints did not match. Expected "{"ab" * 32}", got "{presented}"'
    error = translate.tls_failure(detail, make_connection().netloc)
    assert isinstance(error, TLSFailure)
    assert FINGERPRINT in error.message
    assert ":".join(["CD"] * 32) in error.message
    assert error.expected == FINGERPRINT and error.presented == ":".join(["CD"] * 32)


# --------------------------------------------------------------------------------------- against the simulator


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


def test_an_unknown_guest_is_not_found(pve_client):
    with pytest.raises(NotFound):
        pve_client.guest_status("pve1", "qemu", 99999)


def test_a_refused_action_carries_the_proxmox_message(pve_client):
    with pytest.raises(ProxmoxAPIError, match="already running"):
        pve_client.power("pve1", "qemu", 100, "start")


def test_a_stopped_guest_refuses_consoles_and_shutdowns_as_not_running(pve_client):
    with pytest.raises(GuestNotRunning, match="VM 102 not running"):
        pve_client.vncproxy("pve1", "qemu", 102)
    with pytest.raises(GuestNotRunning, match="CT 201 not running"):
        pve_client.power("pve3", "lxc", 201, "shutdown")


def test_a_server_error_is_an_api_error(pve, pve_client):
    pve.faults.http_500 = True
    with pytest.raises(ProxmoxAPIError) as caught:
        pve_client.version()
    assert caught.value.status == 500


def test_a_closed_port_is_unreachable(pve):
    with ProxmoxClient(connect(pve, port=free_port())) as client, pytest.raises(Unreachable):
        client.version()


def test_an_unknown_host_is_unreachable(pve):
    with ProxmoxClient(connect(pve, host="pve.nonexistent.invalid", timeout=2)) as client:
        with pytest.raises(Unreachable, match="resolve"):
            client.version()
