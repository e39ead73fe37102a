"""servers.proxmox.console: the upstream console WebSocket, its request, its TLS pin, against a recording TLS server
and against the simulator."""

import asyncio
import logging
import socket
import ssl
import struct
import threading
import time

import pytest

from servers import proxmox
from servers.proxmox import (
    AuthenticationFailed,
    ConsoleClosed,
    GuestNotRunning,
    ProxmoxClient,
    ProxmoxError,
    TimedOut,
    TLSFailure,
)
from servers.proxmox.rfb import PROTOCOL_VERSION_3_8, SECURITY_RESULT_OK, SECURITY_VNC_AUTH, vnc_auth_response
from tests.servers.proxmox.conftest import FINGERPRINT, SECRET, connect, make_cert, make_connection


async def _console_against_recording_server(tmp_path, fingerprint):
    """Open a console WebSocket to a TLS server that records the request bytes and then hangs up."""
    cert_pem, key_pem, der = make_cert()
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


# --------------------------------------------------------------------------------------- against the simulator


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
        await proxmox.open_vnc_websocket(
            connect(pve, fingerprint=wrong), "pve1", "qemu", 100, port=5900, ticket="PVEVNC:x"
        )
    assert wrong in caught.value.message and pve.fingerprint in caught.value.message


async def test_system_trust_refuses_the_console_with_a_self_signed_ca(pve):
    with pytest.raises(TLSFailure, match="not trusted"):
        await proxmox.open_vnc_websocket(
            connect(pve, tls_mode="system", fingerprint=""), "pve1", "qemu", 100, port=5900, ticket="PVEVNC:x"
        )


# ---------------------------------------------------------------------------------------------- open_console


async def log_in(stream: proxmox.ConsoleStream, password: str) -> int:
    """RFB 3.8 with VNC Authentication over `stream`; the SecurityResult (0: logged in)."""
    buffer = bytearray()

    async def read(count: int) -> bytes:
        while len(buffer) < count:
            buffer.extend(await stream.recv())
        data = bytes(buffer[:count])
        del buffer[:count]
        return data

    assert await read(12) == PROTOCOL_VERSION_3_8
    await stream.send(PROTOCOL_VERSION_3_8)
    assert SECURITY_VNC_AUTH in await read((await read(1))[0])
    await stream.send(bytes([SECURITY_VNC_AUTH]))
    await stream.send(vnc_auth_response(password, await read(16)))
    return struct.unpack(">I", await read(4))[0]


async def test_open_console_returns_the_stream_and_the_password_that_logs_in(pve):
    upstream = await proxmox.open_console(connect(pve), "pve1", "qemu", 100)
    try:
        assert upstream.stream.subprotocol == "binary"
        assert await log_in(upstream.stream, upstream.password) == SECURITY_RESULT_OK
    finally:
        await upstream.stream.close()
    assert upstream.password not in repr(upstream)


async def test_open_console_logs_in_to_a_container_through_the_cluster_ca(pve):
    upstream = await proxmox.open_console(
        connect(pve, tls_mode="ca", ca_pem=pve.ca_pem, fingerprint=""), "pve2", "lxc", 200
    )
    try:
        assert await log_in(upstream.stream, upstream.password) == SECURITY_RESULT_OK
    finally:
        await upstream.stream.close()


async def test_without_a_password_from_an_older_proxmox_the_ticket_is_the_password(pve, monkeypatch):
    vncproxy = ProxmoxClient.vncproxy

    def old_vncproxy(client, *args, **kwargs):
        offer = vncproxy(client, *args, **kwargs)
        del offer["password"]
        return offer

    monkeypatch.setattr(ProxmoxClient, "vncproxy", old_vncproxy)
    upstream = await proxmox.open_console(connect(pve), "pve1", "qemu", 100)
    try:
        assert upstream.password.startswith("PVEVNC:")
        assert await log_in(upstream.stream, upstream.password) == SECURITY_RESULT_OK
    finally:
        await upstream.stream.close()


async def test_open_console_of_a_stopped_guest_is_guest_not_running(pve):
    with pytest.raises(GuestNotRunning):
        await proxmox.open_console(connect(pve), "pve1", "qemu", 102)


async def test_a_console_closed_by_proxmox_raises_console_closed(pve):
    upstream = await proxmox.open_console(connect(pve), "pve1", "qemu", 100)
    assert await log_in(upstream.stream, "wrong password") != SECURITY_RESULT_OK
    with pytest.raises(ConsoleClosed):
        while True:
            await upstream.stream.recv()
    with pytest.raises(ConsoleClosed):
        await upstream.stream.send(b"\x01")
    await upstream.stream.close()  # harmless once closed


async def test_open_console_against_a_trickling_server_times_out_at_the_connection_timeout(pve):
    pve.faults.trickle = 0.2  # vncproxy's answer, a byte every 0.2 s
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await asyncio.wait_for(proxmox.open_console(connect(pve, timeout=1.0), "pve1", "qemu", 100), 10)
    assert time.monotonic() - started < 2.5


async def test_vncproxy_and_the_websocket_share_one_budget(pve, monkeypatch):
    vncproxy = ProxmoxClient.vncproxy

    def slow_vncproxy(client, *args, **kwargs):
        offer = vncproxy(client, *args, **kwargs)
        time.sleep(1.0)
        pve.faults.hang = True  # and then the WebSocket upgrade gets no answer
        return offer

    monkeypatch.setattr(ProxmoxClient, "vncproxy", slow_vncproxy)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await proxmox.open_console(connect(pve, timeout=1.5), "pve1", "qemu", 100)
    assert time.monotonic() - started < 2.2  # not 1 s + a fresh 1.5 s for the WebSocket
