"""The two ends of a console relay, behind one small interface.

Framework-free: the upstream end wraps the console stream that `servers.proxmox.open_console`
opened, the browser end is fed by whatever server-side WebSocket handler owns the browser
connection (the Channels consumer). Both `send`s wait while the peer is slow, so
the relay can never queue more than one message per direction.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol

from servers import proxmox

from .limits import MESSAGE_COST, RELAY_INPUT_QUEUE


class EndpointClosed(Exception):
    """The peer is gone: nothing more can be received from or sent to it."""


class Endpoint(Protocol):
    async def recv(self) -> bytes:
        """The next message; raises EndpointClosed when the peer is gone."""

    async def send(self, data: bytes) -> None:
        """Waits while the peer is slow; raises EndpointClosed when it is gone."""

    async def close(self, code: int, reason: str) -> None:
        """Closes the connection; harmless when it is already closed."""


class PingableEndpoint(Endpoint, Protocol):
    async def ping(self) -> None:
        """Sends a keepalive ping (without waiting for the pong)."""


class UpstreamEndpoint:
    """Proxmox's side: the stream of a console that `servers.proxmox.open_console` opened."""

    def __init__(self, stream: proxmox.ConsoleStream, on_round_trip: Callable[[float], None] | None = None) -> None:
        self._stream = stream
        self._on_round_trip = on_round_trip  # told each keepalive's round trip in seconds, once its pong arrived

    async def recv(self) -> bytes:
        with _console_closed_as_endpoint_closed():
            return await self._stream.recv()

    async def send(self, data: bytes) -> None:
        with _console_closed_as_endpoint_closed():
            await self._stream.send(data)

    async def ping(self) -> None:
        with _console_closed_as_endpoint_closed():
            pong = await self._stream.ping()
        if self._on_round_trip is not None:
            pong.add_done_callback(self._pong)

    def _pong(self, pong: asyncio.Future[float]) -> None:
        if not pong.cancelled() and pong.exception() is None:
            self._on_round_trip(pong.result())

    async def close(self, code: int, reason: str) -> None:
        await self._stream.close(code, reason)


@contextlib.contextmanager
def _console_closed_as_endpoint_closed() -> Iterator[None]:
    try:
        yield
    except proxmox.ConsoleClosed as exc:
        raise EndpointClosed(str(exc)) from exc


class QueueEndpoint:
    """The browser side, driven by the consumer that owns the browser's WebSocket.

    The consumer calls `feed(bytes)` for each message from the browser and
    `feed_closed()` on disconnect; before taking the next message from the browser it
    awaits `room()`, which waits while `max_queued_bytes` are waiting to be relayed
    (each message counted with its `MESSAGE_COST`).
    `send` and `close` are the consumer's own async callables.
    """

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        *,
        max_queued_bytes: int = RELAY_INPUT_QUEUE,
    ) -> None:
        self._send = send
        self._close = close
        self._max_queued_bytes = max_queued_bytes
        self._messages: deque[bytes] = deque()
        self._queued_bytes = 0
        self._closed = False
        self._close_sent = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    async def room(self) -> None:
        """Returns once fewer than `max_queued_bytes` wait, or nobody will read them any more."""
        await self._writable.wait()

    def feed(self, data: bytes) -> None:
        if self._closed:
            return
        self._messages.append(data)
        self._queued_bytes += len(data) + MESSAGE_COST
        self._readable.set()
        if self._queued_bytes >= self._max_queued_bytes:
            self._writable.clear()

    def feed_closed(self) -> None:
        """The browser is gone, or the relay that read it has ended: wake both sides for good."""
        self._closed = True
        self._readable.set()
        self._writable.set()

    async def recv(self) -> bytes:
        while not self._messages:
            if self._closed:
                raise EndpointClosed("the browser disconnected")
            self._readable.clear()
            await self._readable.wait()
        data = self._messages.popleft()
        self._queued_bytes -= len(data) + MESSAGE_COST
        if self._queued_bytes < self._max_queued_bytes:
            self._writable.set()
        return data

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise EndpointClosed("the browser disconnected")
        await self._send(data)

    async def close(self, code: int, reason: str) -> None:
        if self._closed or self._close_sent:
            return
        self._close_sent = True
        await self._close(code, reason)
