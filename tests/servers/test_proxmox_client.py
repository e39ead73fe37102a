"""servers.proxmox: exact HTTP shapes, error mapping and secret hygiene, with `responses` (no network)."""

import asyncio
import datetime
import logging
import socket
import ssl
import threading
import time
import traceback
from unittest import mock

import pytest
import requests
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

from servers import proxmox
from servers.proxmox import (
    AuthenticationFailed,
    ConfigurationError,
    Connection,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProxmoxAPIError,
    ProxmoxClient,
    ProxmoxError,
    TimedOut,
    TLSFailure,
    Unreachable,
)

SECRET = "5f0c9b1e-secret-7d2a-4c3e-9b8f00c0ffee"
BASE = "https://pve.example.com:8006/api2/json"
UPID = "UPID:pve:0000ABCD:00112233:65A0B1C2:qmstart:100:nexus@pve!broker:"
FINGERPRINT = ":".join(["AB"] * 32)


def make_connection(**overrides) -> Connection:
    fields = {"host": "pve.example.com", "token_id": "nexus@pve!broker", "token_secret": SECRET, "timeout": 5.0}
    fields.update(overrides)
    return Connection(**fields)


@pytest.fixture
def client():
    with ProxmoxClient(make_connection()) as client:
        yield client


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


def ok(mocked, method, path, data, **kwargs):
    mocked.add(method, BASE + path, json={"data": data}, **kwargs)


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


@pytest.mark.parametrize("args", [
    ("pve", "qemu", 100, "destroy"),
    ("pve", "docker", 100, "start"),
    ("pve/../x", "qemu", 100, "start"),
    ("pve", "qemu", 99, "start"),
    ("pve", "qemu", "100", "start"),
])
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
    ok(api, "POST", "/nodes/pve/qemu/100/vncproxy", ticket,
       match=[matchers.urlencoded_params_matcher({"websocket": "1"})])
    ok(api, "POST", "/nodes/pve/lxc/200/vncproxy", ticket,
       match=[matchers.urlencoded_params_matcher({"websocket": "1", "width": "1024", "height": "2160"})])
    assert client.vncproxy("pve", "qemu", 100, width=1024, height=768) == ticket
    assert client.vncproxy("pve", "lxc", 200, width=1024, height=5000) == ticket


def test_vncproxy_without_a_usable_ticket_is_an_error(api, client):
    ok(api, "POST", "/nodes/pve/qemu/100/vncproxy", {"user": "x", "ticket": "", "port": "nope"})
    with pytest.raises(ProxmoxAPIError, match="usable port"):
        client.vncproxy("pve", "qemu", 100)


def test_termproxy_passes_the_serial_port_for_qemu_only(api, client):
    ticket = {"user": "nexus@pve!broker", "ticket": "PVEVNC:T", "port": 5901, "upid": UPID}
    ok(api, "POST", "/nodes/pve/qemu/100/termproxy", ticket,
       match=[matchers.urlencoded_params_matcher({"serial": "serial0"})])
    assert client.termproxy("pve", "qemu", 100, serial="serial0") == ticket
    with pytest.raises(InvalidRequest):
        client.termproxy("pve", "lxc", 200, serial="serial0")
    assert len(api.calls) == 1


# -------------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("status,body,error_type,text", [
    (401, {"data": None}, AuthenticationFailed, "refused the API token"),
    (403, {"data": None, "message": "Permission check failed (/vms/100, VM.PowerMgmt)\n"}, PermissionDenied,
     "Permission check failed (/vms/100, VM.PowerMgmt)"),
    (404, {"data": None}, NotFound, "Not found"),
    (501, {"data": None, "message": "Method 'GET /nodes/x' not implemented"}, NotFound, "not implemented"),
    (500, {"data": None, "message": "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist\n"},
     NotFound, "does not exist"),
    (500, {"data": None, "message": "VM 100 already running\n"}, ProxmoxAPIError, "VM 100 already running"),
    (302, {"data": None}, ProxmoxAPIError, "HTTP 302"),
])
def test_http_errors_become_typed_errors(api, client, status, body, error_type, text):
    api.add("POST", BASE + "/nodes/pve/qemu/100/status/start", json=body, status=status)
    with pytest.raises(error_type, match=text.replace("(", r"\(").replace(")", r"\)")) as caught:
        client.power("pve", "qemu", 100, "start")
    assert caught.value.status == status
    assert caught.value.message == str(caught.value)


def test_permission_denied_carries_the_privilege_text(api, client):
    api.add("GET", BASE + "/nodes/pve/qemu/100/status/current", status=403,
            json={"data": None, "message": "Permission check failed (/vms/100, VM.Audit)\n"})
    with pytest.raises(PermissionDenied) as caught:
        client.guest_status("pve", "qemu", 100)
    assert caught.value.proxmox_message == "Permission check failed (/vms/100, VM.Audit)"


def test_parameter_errors_keep_each_parameter_message(api, client):
    api.add("POST", BASE + "/nodes/pve/lxc/200/vncproxy", status=400, json={
        "data": None, "message": "Parameter verification failed.\n",
        "errors": {"width": "value must have a minimum value of 16\n"},
    })
    with pytest.raises(ProxmoxAPIError) as caught:
        client.vncproxy("pve", "lxc", 200)
    assert caught.value.errors == {"width": "value must have a minimum value of 16"}
    assert "width: value must have a minimum value of 16" in caught.value.message


@pytest.mark.parametrize("kwargs,text", [
    ({"body": "<html>login</html>", "content_type": "text/html"}, "not JSON"),
    ({"json": {"success": 1}}, "without a 'data' field"),
    ({"json": ["data"]}, "without a 'data' field"),
    ({"json": {"data": {"node": "pve"}}}, "unexpected shape"),
    ({"json": {"data": ["pve"]}}, "unexpected shape"),
    ({"body": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"}, "not JSON"),
])
def test_hostile_or_foreign_answers_are_clear_errors(api, client, kwargs, text):
    api.add("GET", BASE + "/nodes", **kwargs)
    with pytest.raises(ProxmoxAPIError, match=text):
        client.nodes()


def test_a_huge_answer_is_refused(api, client, monkeypatch):
    monkeypatch.setattr(proxmox, "MAX_RESPONSE_BYTES", 1000)
    api.add("GET", BASE + "/nodes", json={"data": [{"node": "x" * 2000}]})
    with pytest.raises(ProxmoxAPIError, match="larger than"):
        client.nodes()


def test_a_huge_declared_length_is_refused_before_reading(api, client):
    api.add("GET", BASE + "/nodes", body="{}", headers={"Content-Length": str(50 * 1024 * 1024)},
            auto_calculate_content_length=False)
    with pytest.raises(ProxmoxAPIError, match="larger than"):
        client.nodes()


@pytest.mark.parametrize("raised,error_type", [
    (requests.exceptions.ConnectTimeout("x"), TimedOut),
    (requests.exceptions.ReadTimeout("x"), TimedOut),
    (requests.exceptions.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "refused"))), Unreachable),
    (requests.exceptions.ConnectionError("reset by peer"), Unreachable),
    (requests.exceptions.SSLError("certificate verify failed: self-signed certificate in certificate chain"),
     TLSFailure),
])
def test_transport_failures_become_typed_errors(api, client, raised, error_type):
    api.add("GET", BASE + "/version", body=raised)
    with pytest.raises(error_type):
        client.version()


def test_a_fingerprint_mismatch_names_both_fingerprints():
    presented = "cd" * 32
    detail = f'Fingerprints did not match. Expected "{"ab" * 32}", got "{presented}"'
    error = proxmox._tls_failure(detail, make_connection())
    assert isinstance(error, TLSFailure)
    assert FINGERPRINT in error.message
    assert ":".join(["CD"] * 32) in error.message
    assert error.expected == FINGERPRINT and error.presented == ":".join(["CD"] * 32)


# ------------------------------------------------------------------------------------------------------ retries


def _attempts(client, method):
    """Send `method` with every connection attempt refused; return how many attempts were made."""
    attempts = []

    def refuse(conn, *args, **kwargs):
        attempts.append(1)
        raise NewConnectionError(conn, "Connection refused")

    with mock.patch("urllib3.connectionpool.HTTPConnectionPool._make_request", refuse):
        with pytest.raises(Unreachable):
            if method == "GET":
                client.version()
            else:
                client.power("pve", "qemu", 100, "start")
    return len(attempts)


def test_refused_gets_are_retried_a_few_times(client):
    assert _attempts(client, "GET") == 1 + proxmox.GET_RETRIES


def test_posts_are_never_retried(client):
    assert _attempts(client, "POST") == 1


# -------------------------------------------------------------------------------------------- API explorer


@pytest.mark.parametrize("path", [
    "/version",
    "/nodes/pve/qemu/100/status/current",
    "/cluster/resources",
    f"/nodes/pve/tasks/{UPID}/log",
    "/access/users/nexus@pve/token/broker",
])
def test_api_get_reads_paths_of_the_schema(api, client, path):
    ok(api, "GET", path, {"ok": 1})
    assert client.api_get(path) == {"ok": 1}


@pytest.mark.parametrize("path", [
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
])
def test_api_get_refuses_anything_else_without_sending(api, client, path):
    with pytest.raises(InvalidRequest, match="not a readable Proxmox API path"):
        client.api_get(path)
    assert len(api.calls) == 0


def test_api_get_encodes_params_so_they_cannot_inject(api, client):
    ok(api, "GET", "/cluster/resources", [],
       match=[matchers.query_param_matcher({"type": "vm&x=1", "full": "1"})])
    assert client.api_get("/cluster/resources", {"type": "vm&x=1", "full": True}) == []
    with pytest.raises(InvalidRequest):
        client.api_get("/cluster/resources", {"type=x&y": "1"})
    with pytest.raises(InvalidRequest):
        client.api_get("/cluster/resources", {"type": "vm\r\n"})


def test_the_get_path_list_covers_the_api_explorer():
    assert proxmox.is_allowed_get_path("/nodes/pve/lxc/200/status/current")
    assert not proxmox.is_allowed_get_path("/nodes/pve/qemu/100/status/start")


# --------------------------------------------------------------------------------------------------- connection


def test_a_fingerprint_is_normalised():
    conn = make_connection(tls_mode="fingerprint", fingerprint="ab" * 32)
    assert conn.fingerprint == FINGERPRINT
    assert make_connection(tls_mode="fingerprint", fingerprint=FINGERPRINT.lower()).fingerprint == FINGERPRINT


@pytest.mark.parametrize("overrides", [
    {"tls_mode": "fingerprint", "fingerprint": ""},
    {"tls_mode": "fingerprint", "fingerprint": "AB:CD"},
    {"tls_mode": "insecure"},
    {"tls_mode": "ca", "ca_pem": ""},
    {"token_id": "root@pam"},
    {"host": "pve.example.com/evil"},
    {"port": 0},
    {"token_secret": "with space"},
])
def test_an_unusable_connection_is_refused(overrides):
    with pytest.raises(ConfigurationError):
        make_connection(**overrides)


def test_an_ipv6_host_is_bracketed_in_urls():
    assert make_connection(host="[fd00::1]").base_url == "https://[fd00::1]:8006/api2/json"
    assert make_connection(host="fd00::1").netloc == "[fd00::1]:8006"


def test_tls_contexts_follow_the_mode():
    system = proxmox.ssl_context(make_connection())
    assert system.verify_mode == ssl.CERT_REQUIRED and system.check_hostname
    pinned = proxmox.ssl_context(make_connection(tls_mode="fingerprint", fingerprint=FINGERPRINT))
    assert pinned.verify_mode == ssl.CERT_NONE and not pinned.check_hostname
    ca = proxmox.ssl_context(make_connection(tls_mode="ca", ca_pem=_make_cert()[0].decode()))
    assert ca.verify_mode == ssl.CERT_REQUIRED and ca.check_hostname
    assert ca.cert_store_stats()["x509_ca"] == 1


def test_an_unreadable_ca_is_a_configuration_error():
    bogus = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    with pytest.raises(ConfigurationError):
        proxmox.ssl_context(make_connection(tls_mode="ca", ca_pem=bogus))


# ------------------------------------------------------------------------------------------------ secret hygiene


def test_the_secret_is_never_in_reprs(client):
    conn = make_connection()
    assert SECRET not in repr(conn)
    assert SECRET not in str(conn)
    assert SECRET not in repr(client)


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


# ------------------------------------------------------------------------------------------- privilege report


def test_a_vm_user_token_has_exactly_what_is_needed():
    report = proxmox.privilege_report({"/vms": {"VM.Audit": 1, "VM.PowerMgmt": 1, "VM.Console": 1}})
    assert report.ok and not report.missing and not report.excessive


def test_missing_privileges_are_named():
    report = proxmox.privilege_report({"/vms/100": {"VM.Audit": 1}, "/": {"Sys.Audit": 1}})
    assert report.missing == ("VM.PowerMgmt", "VM.Console")
    assert report.excessive == ()
    assert "VM.PowerMgmt, VM.Console" in report.summary


def test_an_administrator_token_is_far_more_than_needed():
    admin = {"/": {p: 1 for p in ["VM.Audit", "VM.PowerMgmt", "VM.Console", "Sys.Modify", "Permissions.Modify",
                                  "VM.Allocate", "Datastore.Allocate", "Sys.Audit"]}}
    report = proxmox.privilege_report(admin)
    assert not report.missing
    assert set(report.excessive) == {"Sys.Modify", "Permissions.Modify", "VM.Allocate", "Datastore.Allocate"}
    assert report.far_more_than_needed
    assert "far more" in report.summary


def test_the_report_comes_from_access_permissions(api, client):
    ok(api, "GET", "/access/permissions", {"/vms": {"VM.Audit": 1, "VM.Console": 1, "Datastore.Audit": 1}})
    report = client.token_privilege_report()
    assert report.missing == ("VM.PowerMgmt",)
    assert report.excessive == ("Datastore.Audit",)
    assert not report.far_more_than_needed


# ------------------------------------------------------------------------------------------------------- fan-out


def test_fan_out_reports_each_server_separately():
    conns = {name: make_connection(host=f"{name}.example.com", timeout=2) for name in ("a", "b")}

    def call(client):
        if client.connection.host.startswith("b"):
            raise Unreachable("down")
        return client.connection.host

    results = proxmox.fan_out(conns, call)
    assert results["a"].value == "a.example.com" and results["a"].error is None and results["a"].ok
    assert isinstance(results["b"].error, Unreachable) and results["b"].value is None


def test_fan_out_gives_up_on_a_hanging_server_without_waiting_for_it():
    release = threading.Event()
    conns = {"hang": make_connection(host="hang.example.com", timeout=0.3),
             "fine": make_connection(host="fine.example.com", timeout=0.3)}

    def call(client):
        if client.connection.host.startswith("hang"):
            release.wait(30)
        return "answer"

    started = time.monotonic()
    try:
        results = proxmox.fan_out(conns, call)
    finally:
        release.set()
    assert time.monotonic() - started < 10  # far below the 30 s hang; the budget is 0.3 s
    assert isinstance(results["hang"].error, TimedOut)
    assert results["fine"].value == "answer"


def test_fan_out_reraises_bugs_in_the_call():
    def call(client):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        proxmox.fan_out({"a": make_connection()}, call)


def test_fan_out_of_nothing_is_empty():
    assert proxmox.fan_out({}, lambda client: None) == {}


# ------------------------------------------------------------------------- console WebSocket certificate pinning


def _make_cert():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert.public_bytes(serialization.Encoding.DER)


async def _console_against_recording_server(tmp_path, fingerprint):
    """Open a console WebSocket to a TLS server that records the request bytes and then hangs up."""
    cert_pem, key_pem, der = _make_cert()
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    received = bytearray()
    done = threading.Event()

    def serve():
        try:
            sock, _ = listener.accept()
            with server_context.wrap_socket(sock, server_side=True) as tls:
                while b"\r\n\r\n" not in received and (chunk := tls.recv(65536)):
                    received.extend(chunk)
        except OSError:
            pass
        finally:
            done.set()

    threading.Thread(target=serve, daemon=True).start()
    pin = fingerprint or proxmox.certificate_fingerprint(der)
    conn = make_connection(host="127.0.0.1", port=listener.getsockname()[1], tls_mode="fingerprint", fingerprint=pin)
    try:
        with pytest.raises(ProxmoxError) as caught:
            await proxmox.open_vnc_websocket(conn, "pve", "qemu", 100, port=5900, ticket="PVEVNC:T+/=")
        assert await asyncio.to_thread(done.wait, 10)
    finally:
        listener.close()
    return bytes(received), caught.value, proxmox.certificate_fingerprint(der)


async def test_a_wrong_pin_refuses_the_console_before_any_request_byte(tmp_path):
    received, error, presented = await _console_against_recording_server(tmp_path, FINGERPRINT)
    assert received == b""
    assert isinstance(error, TLSFailure)
    assert FINGERPRINT in error.message and presented in error.message


async def test_the_console_request_carries_token_ticket_and_binary_subprotocol(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    received, error, _ = await _console_against_recording_server(tmp_path, None)
    request = received.decode()
    assert request.startswith(
        "GET /api2/json/nodes/pve/qemu/100/vncwebsocket?port=5900&vncticket=PVEVNC%3AT%2B%2F%3D HTTP/1.1\r\n"
    )
    assert f"Authorization: PVEAPIToken=nexus@pve!broker={SECRET}\r\n" in request
    assert "Sec-WebSocket-Protocol: binary\r\n" in request
    assert "permessage-deflate" not in request
    assert SECRET not in error.message
    assert SECRET not in caplog.text  # websockets logs handshake headers at DEBUG unless prevented
