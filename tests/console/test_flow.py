"""console.flow under a real daphne: bounded buffers both ways.

A browser that stops reading makes `websocket.send` wait; an application that stops
receiving makes daphne stop reading the browser. Runs `python -m console.flow` in a
subprocess (daphne's Twisted reactor is process-wide) serving the tiny ASGI app below,
and talks raw WebSocket to it over a plain socket.
"""

import asyncio
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from console import flow, limits

MESSAGE = bytes(256 * 1024)
MESSAGES = 256  # 64 MiB: far more than any socket buffers on the way
# From the browser: daphne unmasks in Python, slowly; 8 MiB is still twice what may wait on the way.
BROWSER_MESSAGES = 32
progress = {"sent": 0, "done": False, "received": 0}
may_receive = asyncio.Event()


async def application(scope, receive, send):
    """/flood sends MESSAGES messages; /hoard receives BROWSER_MESSAGES once /go was asked; HTTP reports progress."""
    await receive()
    if scope["type"] == "http":
        if scope["path"] == "/go":
            may_receive.set()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(progress).encode()})
        return
    await send({"type": "websocket.accept"})
    if scope["path"] == "/hoard":
        await may_receive.wait()
        while progress["received"] < BROWSER_MESSAGES * len(MESSAGE):
            progress["received"] += len((await receive())["bytes"])
        progress["done"] = True
        return
    for _ in range(MESSAGES):
        await send({"type": "websocket.send", "bytes": MESSAGE})
        progress["sent"] += len(MESSAGE)
    progress["done"] = True
    await receive()


def _progress(port):
    return _progress_of(port, "/")


def _progress_of(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.load(response)


def _wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _open_websocket(port, path="/flood"):
    client = socket.socket()
    # A small receive window, so the kernel holds little on our side.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    client.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    client.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += client.recv(1)
    assert response.startswith(b"HTTP/1.1 101")
    return client


@pytest.fixture
def flow_port():
    """A console.flow process serving `application`, on a port of ours."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "console.flow", "--fd", str(listener.fileno()), "tests.console.test_flow:application"],
        cwd=Path(__file__).parents[2],
        pass_fds=[listener.fileno()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _port_answers(port), timeout=20)
        yield port
    finally:
        server.terminate()
        server.wait(10)
        listener.close()


def _wait_until_still(read, interval=0.5):
    """The value `read()` settles on."""
    previous = None
    while (current := read()) != previous:
        previous = current
        time.sleep(interval)
    return current


def test_a_browser_that_stops_reading_makes_websocket_send_wait(flow_port):
    port = flow_port
    client = _open_websocket(port)

    # Wait until the app's sends stop making progress.
    _wait_for(lambda: _progress(port)["sent"] > 0, timeout=10)
    current = _wait_until_still(lambda: _progress(port))
    assert not current["done"]
    assert current["sent"] <= 16 * 1024 * 1024

    # Reading resumes the sender, down to the last message.
    received = 0
    while received < MESSAGES * len(MESSAGE):
        received += len(client.recv(1 << 20))
    assert _progress(port)["done"]
    client.close()


class FakeTransport:
    reading = True

    def pauseProducing(self):
        self.reading = False

    def resumeProducing(self):
        self.reading = True


async def test_the_input_queue_pauses_reading_for_a_flood_of_tiny_messages_too():
    transport = FakeTransport()
    queue = flow.InputQueue(transport, limit=64 * 1024)
    put = 0
    while transport.reading:
        queue.put_nowait({"type": "websocket.receive", "bytes": b"x"})
        put += 1
    assert put == -(-64 * 1024 // (1 + limits.MESSAGE_COST))  # not 64 Ki messages
    while not transport.reading:
        await queue.get()
    assert queue.qsize() <= put // 2 + 1  # reads on once half of it was taken


def _masked_binary_frame(payload):
    # A client frame must be masked; the all-zero mask leaves the payload as it is.
    return b"\x82\xff" + struct.pack(">Q", len(payload)) + bytes(4) + payload


def test_an_application_that_stops_receiving_makes_daphne_stop_reading_the_browser(flow_port):
    port = flow_port
    client = _open_websocket(port, "/hoard")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    sent = {"bytes": 0}

    def send_all():
        frame = _masked_binary_frame(MESSAGE)
        for _ in range(BROWSER_MESSAGES):
            client.sendall(frame)
            sent["bytes"] += len(MESSAGE)

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()

    # The browser gets stuck: daphne stopped reading, so TCP holds it back.
    _wait_for(lambda: sent["bytes"] > 0, timeout=10)
    stuck_at = _wait_until_still(lambda: sent["bytes"])
    assert stuck_at <= 4 * 1024 * 1024
    assert _progress(port)["received"] == 0

    # Once the application receives, everything arrives.
    _progress_of(port, "/go")
    sender.join(timeout=60)
    _wait_for(lambda: _progress(port)["done"], timeout=30)
    assert sent["bytes"] == BROWSER_MESSAGES * len(MESSAGE)
    client.close()


def _port_answers(port):
    try:
        _progress(port)
    except OSError:
        return False
    return True
