"""console.flow under a real daphne: a browser that stops reading makes `websocket.send` wait.

Runs `python -m console.flow` in a subprocess (daphne's Twisted reactor is process-wide)
serving the tiny ASGI app below, and talks raw WebSocket to it over a socket we never
read from until the end.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MESSAGE = bytes(256 * 1024)
MESSAGES = 256  # 64 MiB: far more than any socket buffers on the way
progress = {"sent": 0, "done": False}


async def application(scope, receive, send):
    """Floods each WebSocket with MESSAGES messages; any HTTP request reports how far it got."""
    await receive()
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(progress).encode()})
        return
    await send({"type": "websocket.accept"})
    for _ in range(MESSAGES):
        await send({"type": "websocket.send", "bytes": MESSAGE})
        progress["sent"] += len(MESSAGE)
    progress["done"] = True
    await receive()


def _progress(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return json.load(response)


def _wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _open_websocket(port):
    client = socket.socket()
    # A small receive window, so the kernel holds little on our side.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    client.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    client.sendall(
        f"GET /flood HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += client.recv(1)
    assert response.startswith(b"HTTP/1.1 101")
    return client


def test_a_browser_that_stops_reading_makes_websocket_send_wait():
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
        client = _open_websocket(port)

        # Wait until the app's sends stop making progress.
        _wait_for(lambda: _progress(port)["sent"] > 0, timeout=10)
        previous = None
        while (current := _progress(port)) != previous:
            previous = current
            time.sleep(0.5)
        assert not current["done"]
        assert current["sent"] <= 16 * 1024 * 1024

        # Reading resumes the sender, down to the last message.
        received = 0
        while received < MESSAGES * len(MESSAGE):
            received += len(client.recv(1 << 20))
        assert _progress(port)["done"]
        client.close()
    finally:
        server.terminate()
        server.wait(10)
        listener.close()


def _port_answers(port):
    try:
        _progress(port)
    except OSError:
        return False
    return True
