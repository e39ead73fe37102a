"""What the console tests share: a token, a logged-in WebSocket through the whole ASGI stack, a browser that speaks
just enough RFB, and waits for what the consumer records after it closed the socket."""

import asyncio
import struct

from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from console.models import ConsoleSession
from console.services import TOKEN_PROTOCOL, WEBSOCKET_PATH, console_session_request
from nexus.asgi import application
from servers.proxmox.rfb import PROTOCOL_VERSION_3_8

RUNNING_VM = 100


def ticket_for(user, server, vmid=RUNNING_VM):
    return console_session_request(user=user, server=server, vmid=vmid, client_ip="192.0.2.1")


def cookie_for(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(user, path, origin=b"http://localhost", cookie: bytes | None = None, subprotocols=("binary",)):
    """The WebSocket at `path`, logged in as `user` (or with the session `cookie` given)."""
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if user is not None or cookie is not None:
        headers.append((b"cookie", cookie or await sync_to_async(cookie_for)(user)))
    communicator = WebsocketCommunicator(application, path, headers=headers, subprotocols=list(subprotocols))
    connected, detail = await communicator.connect(timeout=5)
    return communicator, connected, detail


async def open_console_socket(user, token: str, **options):
    """The console WebSocket offering the one-time `token` (as the page does: a subprotocol beside `binary`)."""
    return await open_socket(user, WEBSOCKET_PATH, subprotocols=["binary", f"{TOKEN_PROTOCOL}{token}"], **options)


class Browser:
    """Just enough of noVNC: the RFB handshake as the relay offers it, then raw messages."""

    def __init__(self, communicator):
        self.communicator = communicator
        self.buffer = b""

    async def read(self, count: int, timeout=5) -> bytes:
        while len(self.buffer) < count:
            message = await self.communicator.receive_output(timeout)
            assert message["type"] == "websocket.send", message
            self.buffer += message["bytes"]
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    async def send(self, data: bytes):
        await self.communicator.send_to(bytes_data=data)

    async def handshake(self) -> bytes:
        assert await self.read(12) == PROTOCOL_VERSION_3_8
        await self.send(PROTOCOL_VERSION_3_8)
        assert await self.read(2) == bytes([1, 1]), "the browser is offered security type None only"
        await self.send(bytes([1]))
        assert await self.read(4) == bytes(4)
        await self.send(bytes([1]))  # ClientInit, shared
        header = await self.read(24)
        return await self.read(struct.unpack(">I", header[20:24])[0])


async def closed_with(communicator, timeout=10) -> int:
    while True:
        message = await communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message["code"]


async def session_of(ticket) -> ConsoleSession:
    return await ConsoleSession.objects.aget(pk=ticket.session.pk)


async def session_once(ticket, recorded, what: str) -> ConsoleSession:
    """The session once `recorded(session)` holds: the consumer records after it closed the socket."""
    for _ in range(100):
        session = await session_of(ticket)
        if recorded(session):
            return session
        await asyncio.sleep(0.05)
    raise AssertionError(f"the session was never recorded {what}")


async def closed_session(ticket) -> ConsoleSession:
    return await session_once(ticket, lambda session: session.closed_at, "as closed")
