"""Fault injection: latency, hanging servers, HTTP 500 and dropped console WebSockets."""

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
    assert (pve.faults.latency, pve.faults.hang, pve.faults.http_500, pve.faults.drop_ws_after) == (0, False, False, None)
