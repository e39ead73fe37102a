"""The console upstream: vncproxy, then Proxmox's vncwebsocket, opened with the API token, the Connection's TLS
mode and its pin. Callers get a ConsoleStream: the websockets library stays inside this package."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as websockets_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .client import ProxmoxClient
from .connection import Connection, certificate_fingerprint, ssl_context
from .errors import ConsoleClosed, InvalidRequest, NotFound, ProxmoxError, clean_text
from .rfb import parse_version
from .translate import error_from_answer, error_from_failure, fingerprint_mismatch
from .transport import Deadline
from .validation import check_guest

logger = logging.getLogger(__name__)

# Proxmox sends frames up to 128 KiB; leave room for the frame header and a future increase.
WEBSOCKET_MAX_SIZE = 1024 * 1024


class ConsoleStream:
    """An open console WebSocket as a stream of binary messages; `recv`, `send` and `ping` raise ConsoleClosed once
    Proxmox is gone.

    Reading stops when nobody calls `recv`: websockets then buffers at most `max_queue` frames and stops reading the
    socket, so Proxmox is held back too.
    """

    def __init__(self, websocket: ClientConnection) -> None:
        self._websocket = websocket

    @property
    def subprotocol(self) -> str | None:
        return self._websocket.subprotocol

    async def recv(self) -> bytes:
        with _closed_as_console_closed():
            # decode=False: RFB is binary; a stray text frame is passed on as its bytes.
            return await self._websocket.recv(decode=False)

    async def send(self, data: bytes) -> None:
        with _closed_as_console_closed():
            await self._websocket.send(data)

    async def ping(self) -> asyncio.Future[float]:
        """Sends a keepalive ping without waiting for the pong: while a reader is slow nobody reads from Proxmox,
        so its pong may sit unread and a live console would look dead. Returns the future of its round trip in
        seconds, for whoever wants to know it (nobody need wait for it)."""
        with _closed_as_console_closed():
            return await self._websocket.ping()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Closes the console; harmless when it is already closed."""
        await self._websocket.close(code, reason)


@contextlib.contextmanager
def _closed_as_console_closed() -> Iterator[None]:
    try:
        yield
    except ConnectionClosed as exc:
        raise ConsoleClosed(str(exc)) from exc


@dataclass(frozen=True)
class UpstreamConsole:
    """A guest's console opened on Proxmox: its stream, and the VNC password that logs in to it (never shown)."""

    stream: ConsoleStream
    password: str = field(repr=False)


async def open_console(connection: Connection, node: str, kind: str, vmid: int) -> UpstreamConsole:
    """Open a guest's VNC console: vncproxy (websocket=1), then its vncwebsocket, to the same host with the same
    token, as Proxmox requires; both within the connection's timeout. The caller relays the stream and closes it."""
    deadline = Deadline(connection.timeout, connection.netloc)
    offer = await asyncio.to_thread(_vncproxy, connection, node, kind, vmid)
    stream = await open_vnc_websocket(
        connection, node, kind, vmid, port=int(offer["port"]), ticket=offer["ticket"], timeout=deadline.remaining()
    )
    # Current Proxmox sends the password; older ones use the ticket, whose first 8 bytes are the password.
    return UpstreamConsole(stream, password=offer.get("password") or offer["ticket"])


def _vncproxy(connection: Connection, node: str, kind: str, vmid: int) -> dict:
    with ProxmoxClient(connection) as client:
        return client.vncproxy(node, kind, vmid)


class _NoDebugLogger(logging.LoggerAdapter):
    """websockets logs every handshake header at DEBUG, the Authorization header included; never let it."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


@dataclass
class _Pin:
    expected: str
    presented: str = ""

    @property
    def mismatch(self) -> bool:
        return bool(self.presented) and self.presented != self.expected


class _PinnedClientConnection(ClientConnection):
    """Checks the leaf certificate right after the TLS handshake, before the HTTP request is written."""

    def __init__(self, *args, pin: _Pin, **kwargs):
        super().__init__(*args, **kwargs)
        self._pin = pin

    def connection_made(self, transport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        self._pin.presented = certificate_fingerprint(der) if der else "(no certificate)"
        if self._pin.mismatch:
            # Abort first: nothing is ever written to this transport, so the token never leaves.
            transport.abort()
        super().connection_made(transport)


class _NoRedirectConnect(websockets_connect):
    # The Authorization header would follow a redirect to another host; Proxmox never redirects here.
    def process_redirect(self, exc: Exception) -> Exception:
        return exc


def vncwebsocket_url(connection: Connection, node: str, kind: str, vmid: int, *, port: int, ticket: str) -> str:
    """The wss:// URL of a console's vncwebsocket; it carries the ticket, so never log it."""
    check_guest(node, kind, vmid)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidRequest(f"Invalid console port {clean_text(port, 40)!r}.")
    if not isinstance(ticket, str) or not ticket or len(ticket) > 512:
        raise InvalidRequest("Invalid console ticket.")
    query = urllib.parse.urlencode({"port": port, "vncticket": ticket})
    return f"wss://{connection.netloc}/api2/json/nodes/{node}/{kind}/{vmid}/vncwebsocket?{query}"


async def open_vnc_websocket(
    connection: Connection, node: str, kind: str, vmid: int, *, port: int, ticket: str, timeout: float | None = None
) -> ConsoleStream:
    """Open the upstream console WebSocket (vncwebsocket) with the token, subprotocol 'binary' and the same TLS mode,
    within `timeout` seconds (TCP, TLS and the upgrade together; default: the connection's timeout).

    Must follow the vncproxy/termproxy call that issued `port`/`ticket`, to the same host, with the same token.
    """
    uri = vncwebsocket_url(connection, node, kind, vmid, port=port, ticket=ticket)
    options: dict[str, Any] = {}
    pin = None
    if connection.tls_mode == "fingerprint":
        pin = _Pin(connection.fingerprint)
        options["create_connection"] = functools.partial(_PinnedClientConnection, pin=pin)
    where = connection.netloc
    try:
        websocket = await _NoRedirectConnect(
            uri,
            additional_headers={"Authorization": connection.authorization},
            subprotocols=["binary"],
            ssl=ssl_context(connection),
            compression=None,
            ping_interval=None,
            max_size=WEBSOCKET_MAX_SIZE,
            open_timeout=timeout or connection.timeout,
            proxy=None,
            user_agent_header="proxmox-vnc-nexus",
            logger=_NoDebugLogger(logging.getLogger("websockets.client"), {}),
            **options,
        )
    except Exception as exc:
        if pin is not None and pin.mismatch:
            raise fingerprint_mismatch(pin.expected, pin.presented, where) from None
        error = _error_from_handshake(exc, connection)
        logger.info("Proxmox console WebSocket to %s for %s %s failed: %s", where, kind, vmid, error.message)
        raise error from None
    return ConsoleStream(websocket)


def _error_from_handshake(exc: Exception, connection: Connection) -> ProxmoxError:
    if not isinstance(exc, InvalidStatus):
        return error_from_failure(exc, connection.host, connection.port, connection.timeout)
    try:
        body = json.loads(exc.response.body or b"")
    except ValueError:
        body = None
    return error_from_answer(
        exc.response.status_code, exc.response.reason_phrase, body, connection, console_ticket=True
    )


def console_greeting(client: ProxmoxClient, vmid: int) -> tuple[int, int]:
    """The console path of one guest, as a user's console takes it: find its node, vncproxy, the vncwebsocket
    upgrade, and the RFB greeting of Proxmox's VNC server; then close. Returns the RFB version it announced.
    For the health check's console probe (time to console); within the connection's timeout only when the caller
    bounds it (proxmox.fan_out does)."""
    found = [g for g in client.guests() if g.get("vmid") == vmid and g.get("type") in ("qemu", "lxc")]
    if not found:
        raise NotFound(f"Guest {vmid} is not on this server.")
    return asyncio.run(_greeting(client.connection, str(found[0]["node"]), str(found[0]["type"]), vmid))


async def _greeting(connection: Connection, node: str, kind: str, vmid: int) -> tuple[int, int]:
    upstream = await open_console(connection, node, kind, vmid)
    try:
        greeting = b""
        while len(greeting) < 12:
            greeting += await asyncio.wait_for(upstream.stream.recv(), connection.timeout)
    except TimeoutError:
        raise ConsoleClosed("The console sent no RFB greeting.") from None
    finally:
        await upstream.stream.close()
    version = parse_version(greeting[:12])
    if version is None:
        raise ConsoleClosed(f"The console did not greet in RFB: {clean_text(greeting[:12], 40)!r}")
    return version
