"""Helpers for talking to the simulator the way the project's client will: HTTPS pinned to its CA."""

import ssl
import struct
import urllib.parse

import pytest
import requests
from websockets.sync.client import connect

from servers.proxmox.rfb import vnc_auth_response


class Client:
    def __init__(self, server, ca_file, token_id=None, secret=None):
        self.server = server
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace our CA
        self.session.verify = str(ca_file)
        self.token_id = token_id or server.token_id
        self.session.headers["Authorization"] = f"PVEAPIToken={self.token_id}={secret or server.token_secret}"

    def get(self, url_path, **params):
        return self.session.get(self.server.base_url + url_path, params=params, timeout=10)

    def post(self, url_path, **data):
        return self.session.post(self.server.base_url + url_path, data=data, timeout=10)

    def data(self, method, url_path, **params):
        response = getattr(self, method)(url_path, **params)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()["data"]

    def ssl_context(self):
        context = ssl.create_default_context(cafile=self.session.verify)
        # websockets' sync client sometimes loses its upgrade request over TLS 1.3
        # (python-websockets/websockets#1648); the simulator itself speaks TLS 1.3.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        return context

    def websocket(self, node, kind, vmid, port, ticket, subprotocols=("binary",)):
        query = urllib.parse.urlencode({"port": port, "vncticket": ticket})
        url = f"wss://{self.server.host}:{self.server.port}/api2/json/nodes/{node}/{kind}/{vmid}/vncwebsocket?{query}"
        return connect(
            url,
            ssl=self.ssl_context(),
            subprotocols=list(subprotocols) if subprotocols else None,
            additional_headers={"Authorization": self.session.headers["Authorization"]},
            max_size=None,
            open_timeout=10,
        )

    def with_token(self, token_id, secret):
        return Client(self.server, self.session.verify, token_id, secret)


@pytest.fixture
def ca_file(pve, tmp_path):
    path = tmp_path / "ca.pem"
    path.write_text(pve.ca_pem)
    return path


@pytest.fixture
def api(pve, ca_file):
    return Client(pve, ca_file)


class RfbClient:
    """Just enough of an RFB client over a console WebSocket for the tests."""

    def __init__(self, ws):
        self.ws = ws
        self.buffer = bytearray()
        self.received = 0  # bytes the server sent so far

    def receive(self, timeout=10):
        data = self.ws.recv(timeout=timeout)
        self.received += len(data)
        self.buffer += data

    def read(self, count, timeout=10):
        while len(self.buffer) < count:
            self.receive(timeout)
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def handshake(self, password):
        assert self.read(12) == b"RFB 003.008\n"
        self.ws.send(b"RFB 003.008\n")
        count = self.read(1)[0]
        assert list(self.read(count)) == [2]
        self.ws.send(b"\x02")
        challenge = self.read(16)
        self.ws.send(vnc_auth_response(password, challenge))
        return struct.unpack(">I", self.read(4))[0]

    def init(self):
        self.ws.send(b"\x01")
        width, height = struct.unpack(">HH", self.read(4))
        pixel_format = self.read(16)
        name = self.read(struct.unpack(">I", self.read(4))[0]).decode()
        return width, height, pixel_format, name

    def request_update(self, incremental, x, y, width, height):
        self.ws.send(struct.pack(">BBHHHH", 3, incremental, x, y, width, height))

    def read_update(self, bytes_per_pixel=4):
        kind, count = struct.unpack(">BxH", self.read(4))
        assert kind == 0
        rects = []
        for _ in range(count):
            x, y, width, height, encoding = struct.unpack(">HHHHi", self.read(12))
            assert encoding == 0
            rects.append(((x, y, width, height), self.read(width * height * bytes_per_pixel)))
        return rects
