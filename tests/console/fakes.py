"""In-memory stand-ins for the relay's two peers: pipes, a Proxmox VNC server, a noVNC client."""

import asyncio
import os
import struct

from console.endpoints import EndpointClosed
from console.handshake import ByteReader
from servers.proxmox.rfb import PROTOCOL_VERSION_3_8, vnc_auth_response

PASSWORD = "PVEVNC:6789ABCD::secret-ticket-tail"
# A ServerInit: 640x480, a 32-bit pixel format, name "vm 100".
SERVER_INIT = struct.pack(">HH16sI", 640, 480, bytes(16), 6) + b"vm 100"

_CLOSED = object()


class PipeEnd:
    """One end of an in-memory message pipe; what one end sends, the other receives."""

    def __init__(self) -> None:
        self.peer: PipeEnd
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.sent = bytearray()
        self.closed_with: tuple[int, str] | None = None
        self.pings = 0

    async def recv(self) -> bytes:
        data = await self.inbox.get()
        if data is _CLOSED:
            self.inbox.put_nowait(_CLOSED)
            raise EndpointClosed("pipe closed")
        return data

    async def send(self, data: bytes) -> None:
        if self.closed_with or self.peer.closed_with:
            raise EndpointClosed("pipe closed")
        self.sent += data
        self.peer.inbox.put_nowait(bytes(data))

    async def ping(self) -> None:
        if self.closed_with or self.peer.closed_with:
            raise EndpointClosed("pipe closed")
        self.pings += 1

    async def close(self, code: int, reason: str) -> None:
        if self.closed_with is None:
            self.closed_with = (code, reason)
            self.inbox.put_nowait(_CLOSED)
            self.peer.inbox.put_nowait(_CLOSED)


def pipe() -> tuple[PipeEnd, PipeEnd]:
    """(the relay's end, the fake peer's end)."""
    ours, theirs = PipeEnd(), PipeEnd()
    ours.peer, theirs.peer = theirs, ours
    return ours, theirs


async def proxmox(end, password=PASSWORD, *, greeting=b"", after_result=b""):
    """Plays Proxmox's VNC server up to ServerInit; returns its reader for the rest.

    `greeting` is sent with the version (to test split and merged messages),
    `after_result` right after a successful SecurityResult.
    """
    reader = ByteReader(end)
    await end.send(PROTOCOL_VERSION_3_8)
    assert await reader.read(12) == PROTOCOL_VERSION_3_8
    await end.send(bytes([1, 2]))
    assert await reader.read_u8() == 2
    challenge = os.urandom(16)
    await end.send(challenge)
    if await reader.read(16) != vnc_auth_response(password, challenge):
        reason = b"Authentication failed"
        await end.send(struct.pack(">II", 1, len(reason)) + reason)
        return reader
    await end.send(struct.pack(">I", 0) + after_result)
    assert await reader.read(1) == b"\x01"  # ClientInit, shared
    await end.send(SERVER_INIT)
    return reader


async def novnc(end, *, after_init=b"", early=b""):
    """Plays noVNC up to ServerInit; returns its reader for the rest.

    `early` is what Proxmox's `after_result` should bring before ServerInit.
    """
    reader = ByteReader(end)
    assert await reader.read(12) == PROTOCOL_VERSION_3_8
    await end.send(PROTOCOL_VERSION_3_8)
    assert await reader.read(2) == bytes([1, 1])  # one security type: None
    # The choice, ClientInit and the first requests in one message, as a fast client may send them.
    await end.send(b"\x01" + b"\x01" + after_init)
    assert await reader.read_u32() == 0
    assert await reader.read(len(early)) == early
    assert await reader.read(len(SERVER_INIT)) == SERVER_INIT
    return reader
