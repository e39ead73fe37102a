"""Consoles: vncproxy/termproxy tickets, the vncwebsocket upgrade, RFB behind it and termproxy's shell."""

import struct
import time

import pytest
from websockets.exceptions import InvalidStatus

from tests.pvesim.conftest import RfbClient


def open_vnc(api, node="pve1", kind="qemu", vmid=100, **params):
    proxy = api.data("post", f"/nodes/{node}/{kind}/{vmid}/vncproxy", websocket=1, **params)
    return proxy, api.websocket(node, kind, vmid, proxy["port"], proxy["ticket"])


def test_vncproxy_answers_with_ticket_password_port_and_task(api, pve):
    proxy = api.data("post", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    assert set(proxy) == {"user", "ticket", "port", "upid", "cert", "password"}
    assert proxy["ticket"].startswith("PVEVNC:") and proxy["ticket"].startswith(proxy["password"])
    assert 5900 <= proxy["port"] <= 5999 and proxy["user"] == pve.token_id
    assert ":vncproxy:100:" in proxy["upid"] and "BEGIN CERTIFICATE" in proxy["cert"]


def test_each_vncproxy_call_gets_its_own_port(api):
    first = api.data("post", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    second = api.data("post", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    assert first["port"] != second["port"] and first["ticket"] != second["ticket"]


def test_containers_refuse_generate_password(api):
    response = api.post("/nodes/pve2/lxc/200/vncproxy", websocket=1, **{"generate-password": 1})
    assert response.status_code == 400
    assert "generate-password" in response.json()["errors"]


def test_a_stopped_vm_has_no_console(api):
    response = api.post("/nodes/pve1/qemu/102/vncproxy", websocket=1)
    assert response.status_code == 500
    assert response.json()["message"] == "VM 102 not running\n"


def test_vncproxy_needs_vm_console(api, pve):
    pve.add_token("viewer@pve!noconsole", "secret", {"VM.Audit"})
    response = api.with_token("viewer@pve!noconsole", "secret").post("/nodes/pve1/qemu/100/vncproxy", websocket=1)
    assert response.status_code == 403
    assert response.json()["message"] == "Permission check failed (/vms/100, VM.Console)\n"


def test_a_bad_ticket_is_a_plain_401_without_upgrade(api):
    proxy = api.data("post", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    with pytest.raises(InvalidStatus) as error:
        api.websocket("pve1", "qemu", 100, proxy["port"], proxy["ticket"] + "x")
    assert error.value.response.status_code == 401


def test_an_expired_ticket_is_refused(api, pve):
    pve.ticket_lifetime = -1  # every ticket is already older than its lifetime
    proxy = api.data("post", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    with pytest.raises(InvalidStatus) as error:
        api.websocket("pve1", "qemu", 100, proxy["port"], proxy["ticket"])
    assert error.value.response.status_code == 401


def test_a_ticket_is_bound_to_its_guest_and_token(api, pve):
    proxy = api.data("post", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    with pytest.raises(InvalidStatus):
        api.websocket("pve2", "qemu", 101, proxy["port"], proxy["ticket"])
    pve.add_token("other@pve!console", "secret")
    with pytest.raises(InvalidStatus):
        api.with_token("other@pve!console", "secret").websocket("pve1", "qemu", 100, proxy["port"], proxy["ticket"])


def test_the_binary_subprotocol_is_echoed_and_pings_answered(api):
    _, connection = open_vnc(api)
    with connection as ws:
        assert ws.subprotocol == "binary"
        assert ws.ping().wait(timeout=5)


def test_a_websocket_without_subprotocol_is_refused(api):
    proxy = api.data("post", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    with pytest.raises(InvalidStatus) as error:
        api.websocket("pve1", "qemu", 100, proxy["port"], proxy["ticket"], subprotocols=None)
    assert error.value.response.status_code == 501


def test_vnc_authentication_and_server_init(api, pve):
    proxy, connection = open_vnc(api)
    with connection as ws:
        client = RfbClient(ws)
        assert client.handshake(proxy["password"]) == 0
        width, height, pixel_format, name = client.init()
    assert (width, height, name) == (800, 600, "web-01")
    assert pixel_format[:4] == bytes([32, 24, 0, 1])
    assert pve.guest(100).rfb_connections == 1


def test_the_ticket_works_as_the_vnc_password(api):
    proxy, connection = open_vnc(api)
    with connection as ws:
        assert RfbClient(ws).handshake(proxy["ticket"]) == 0


def test_a_wrong_vnc_password_fails_with_a_reason(api, pve):
    _, connection = open_vnc(api)
    with connection as ws:
        client = RfbClient(ws)
        assert client.handshake("wrong!!!") == 1
        reason = client.read(struct.unpack(">I", client.read(4))[0])
    assert reason == b"Authentication failed"
    assert pve.guest(100).rfb_connections == 0


def test_a_generated_password_replaces_the_ticket(api):
    proxy, connection = open_vnc(api, **{"generate-password": 1})
    assert not proxy["ticket"].startswith(proxy["password"])
    with connection as ws:
        assert RfbClient(ws).handshake(proxy["password"]) == 0


def test_the_framebuffer_is_not_blank_and_changes(api):
    proxy, connection = open_vnc(api)
    with connection as ws:
        client = RfbClient(ws)
        client.handshake(proxy["password"])
        client.init()
        client.request_update(0, 0, 0, 800, 600)
        [(rect, pixels)] = client.read_update()
        assert rect == (0, 0, 800, 600)
        assert len({pixels[i : i + 4] for i in range(0, len(pixels), 4)}) >= 3
        client.request_update(1, 0, 0, 800, 600)
        [(rect, changed)] = client.read_update()
        assert rect[2] == 800 and 0 < rect[3] < 600 and changed


def test_a_16_bit_pixel_format_is_honoured(api):
    proxy, connection = open_vnc(api)
    with connection as ws:
        client = RfbClient(ws)
        client.handshake(proxy["password"])
        client.init()
        ws.send(b"\x00\x00\x00\x00" + struct.pack(">BBBBHHHBBB3x", 16, 16, 0, 1, 31, 63, 31, 11, 5, 0))
        client.request_update(0, 0, 0, 10, 10)
        [(rect, pixels)] = client.read_update(bytes_per_pixel=2)
    assert rect == (0, 0, 10, 10) and len(pixels) == 200


def test_key_events_and_cut_text_are_recorded(api, pve):
    proxy, connection = open_vnc(api)
    with connection as ws:
        client = RfbClient(ws)
        client.handshake(proxy["password"])
        client.init()
        ws.send(struct.pack(">BxHii", 2, 2, 0, -239))  # SetEncodings
        for char in "hi!":
            ws.send(struct.pack(">BBxxI", 4, 1, ord(char)) + struct.pack(">BBxxI", 4, 0, ord(char)))
        ws.send(struct.pack(">BBxxI", 4, 1, 0xFF0D))  # Return is not printable
        ws.send(struct.pack(">BBHH", 5, 1, 10, 20))
        ws.send(struct.pack(">BxxxI", 6, 5) + b"paste")
        deadline = time.monotonic() + 5
        guest = pve.guest(100)
        while not guest.clipboard and time.monotonic() < deadline:
            time.sleep(0.02)
    assert guest.typed_text() == "hi!"
    assert guest.keys[:2] == [(True, ord("h")), (False, ord("h"))]
    assert guest.clipboard == ["paste"]
    assert guest.pointer == (1, 10, 20)


def test_a_console_ticket_opens_one_connection_only(api):
    proxy, connection = open_vnc(api)
    with connection:
        second = api.websocket("pve1", "qemu", 100, proxy["port"], proxy["ticket"])
        with pytest.raises(Exception):
            second.recv(timeout=5)


def test_termproxy_logs_in_then_echoes_lines(api, pve):
    proxy = api.data("post", "/nodes/pve2/lxc/200/termproxy")
    assert set(proxy) == {"user", "ticket", "port", "upid"}
    with api.websocket("pve2", "lxc", 200, proxy["port"], proxy["ticket"]) as ws:
        ws.send(f"{proxy['user']}:{proxy['ticket']}\n".encode())
        assert ws.recv(timeout=5) == b"OK"
        assert ws.recv(timeout=5).endswith(b"root@dns-ct:~# ")
        ws.send(b"1:120:40:0:6:ls -l\r2")
        output = b""
        while not output.endswith(b"root@dns-ct:~# "):
            output += ws.recv(timeout=5)
    assert b"ls -l\r\nls -l\r\n" in output
    guest = pve.guest(200)
    assert guest.terminal_lines == ["ls -l"] and guest.terminal_size == (120, 40)


def test_termproxy_closes_on_a_bad_login_line(api):
    proxy = api.data("post", "/nodes/pve1/qemu/100/termproxy")
    with api.websocket("pve1", "qemu", 100, proxy["port"], proxy["ticket"]) as ws:
        ws.send(b"root@pam:nonsense\n")
        with pytest.raises(Exception):
            ws.recv(timeout=5)


def test_the_console_task_ends_when_the_console_closes(api):
    proxy, connection = open_vnc(api)
    with connection as ws:
        RfbClient(ws).handshake(proxy["password"])
        status = api.data("get", f"/nodes/pve1/tasks/{proxy['upid']}/status")
        assert status["status"] == "running"
    deadline = time.monotonic() + 5
    while status["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = api.data("get", f"/nodes/pve1/tasks/{proxy['upid']}/status")
    assert status["exitstatus"] == "OK"
