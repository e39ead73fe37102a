"""Fault injection: latency, hanging servers, HTTP 500, dropped console WebSockets and trickled answers."""

import contextlib
import socket
import time

import pytest
import requests
from websockets.exceptions import ConnectionClosed

from tests.pvesim.conftest import RfbClient


def test_latency_delays_every_answer(api, pve):
    pve.faults.latency = 0.3
    started = time.monotonic()
    assert api.get("/version").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_a_hanging_server_accepts_but_never_answers(api, pve):
    pve.faults.hang = True
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.get(pve.base_url + "/version", timeout=0.5)
    pve.reset()
    assert api.get("/version").status_code == 200


def test_http_500_fails_every_call_with_a_proxmox_error_body(api, pve):
    pve.faults.http_500 = True
    response = api.get("/cluster/resources")
    assert response.status_code == 500
    assert response.json() == {"data": None, "message": "cluster not ready - no quorum?\n"}


def test_a_console_websocket_is_cut_after_the_configured_bytes(api, pve):
    pve.faults.drop_ws_after = 4096
    proxy = api.data("post", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    with api.websocket("pve1", "qemu", 100, proxy["port"], proxy["ticket"]) as ws:
        client = RfbClient(ws)
        assert client.handshake(proxy["password"]) == 0
        client.init()
        client.request_update(0, 0, 0, 800, 600)
        with pytest.raises(ConnectionClosed):
            while True:
                client.receive(timeout=5)
    assert client.received == 4096


def test_faults_are_off_after_reset(pve):
    pve.faults.latency, pve.faults.hang, pve.faults.http_500, pve.faults.drop_ws_after = 1, True, True, 5
    pve.reset()
    assert (pve.faults.latency, pve.faults.hang, pve.faults.http_500, pve.faults.drop_ws_after) == (
        0,
        False,
        False,
        None,
    )


@contextlib.contextmanager
def version_request(api, pve):
    """A TLS socket that has asked for /version and waits for the answer."""
    with socket.create_connection((pve.host, pve.port), timeout=5) as raw:
        with api.ssl_context().wrap_socket(raw, server_hostname=pve.host) as tls:
            tls.sendall(
                f"GET /api2/json/version HTTP/1.1\r\nHost: {pve.host}\r\n"
                f"Authorization: {api.session.headers['Authorization']}\r\n\r\n".encode()
            )
            yield tls


def test_a_trickling_server_sends_its_answer_one_byte_at_a_time(api, pve):
    pve.faults.trickle = 0.1
    with version_request(api, pve) as tls:
        started = time.monotonic()
        received = b"".join(tls.recv(100) for _ in range(4))
        elapsed = time.monotonic() - started
    assert received == b"HTTP"
    assert elapsed >= 0.25  # three gaps of 0.1 s between four bytes


def test_reset_ends_a_trickling_answer(api, pve):
    pve.faults.trickle = 0.1
    with version_request(api, pve) as tls:
        assert tls.recv(100) == b"H"
        pve.reset()
        rest = b""
        with contextlib.suppress(OSError):  # hung up: end of stream or a reset, as the timing has it
            while chunk := tls.recv(100):
                rest += chunk
    assert len(rest) < 5
    assert api.get("/version").status_code == 200
