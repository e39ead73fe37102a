"""RFB handshake substitution: VNC Authentication towards Proxmox, no security towards the browser.

The Proxmox password is only ever sent to Proxmox (as the DES response); the browser is
offered security type None and sees nothing but fixed protocol bytes. WebSocket messages
do not line up with RFB messages, so both sides are read as byte streams and whatever
arrives after the handshake is handed back for the relay to forward.
"""

import struct

from servers.proxmox.rfb import (
    PROTOCOL_VERSION_3_8,
    SECURITY_NONE,
    SECURITY_RESULT_FAILED,
    SECURITY_RESULT_OK,
    SECURITY_VNC_AUTH,
    parse_version,
    vnc_auth_response,
)

from .endpoints import Endpoint

# A failure reason longer than this is not a reason; refuse to buffer it.
MAX_REASON_BYTES = 4096


class HandshakeError(Exception):
    """The peer does not speak RFB the way we need."""


class AuthenticationFailed(HandshakeError):
    """Proxmox rejected the VNC password."""


class ByteReader:
    """Reads exact byte counts from a message-based endpoint, keeping what is left over."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._buffer = bytearray()

    async def read(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._buffer += await self._endpoint.recv()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def read_u8(self) -> int:
        return (await self.read(1))[0]

    async def read_u32(self) -> int:
        return struct.unpack(">I", await self.read(4))[0]

    async def read_reason(self) -> str:
        length = await self.read_u32()
        if length > MAX_REASON_BYTES:
            raise HandshakeError(f"failure reason of {length} bytes is too long")
        return (await self.read(length)).decode("utf-8", errors="replace")

    def leftover(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def _minor_version(greeting: bytes, peer: str) -> int:
    """The RFB 3.x minor version to speak, from a 12-byte ProtocolVersion message."""
    version = parse_version(greeting)
    if version is None or version[0] != 3 or version[1] < 3:
        raise HandshakeError(f"{peer} does not speak RFB 3.3 or later: {greeting!r}")
    minor = version[1]
    # The spec says to treat unknown minors as 3.3 (some vendors announce 3.4-3.6).
    return 8 if minor >= 8 else 7 if minor == 7 else 3


async def authenticate_upstream(upstream: Endpoint, password: str) -> bytes:
    """Log in to Proxmox's VNC server with VNC Authentication.

    Returns any bytes received after the SecurityResult (normally none: the server
    waits for ClientInit).
    """
    reader = ByteReader(upstream)
    minor = _minor_version(await reader.read(12), "Proxmox")
    await upstream.send(b"RFB 003.%03d\n" % minor)
    if minor == 3:
        # 3.3: the server picks the security type itself.
        offered = [await reader.read_u32()]
        if offered == [0]:
            raise HandshakeError(f"Proxmox refused the connection: {await reader.read_reason()}")
    else:
        count = await reader.read_u8()
        if count == 0:
            raise HandshakeError(f"Proxmox refused the connection: {await reader.read_reason()}")
        offered = list(await reader.read(count))
    if SECURITY_VNC_AUTH not in offered:
        raise HandshakeError(f"Proxmox does not offer VNC Authentication (offered {offered})")
    if minor != 3:
        await upstream.send(bytes([SECURITY_VNC_AUTH]))
    challenge = await reader.read(16)
    await upstream.send(vnc_auth_response(password, challenge))
    if await reader.read_u32() != SECURITY_RESULT_OK:
        # Only 3.8 explains a failed SecurityResult.
        reason = await reader.read_reason() if minor == 8 else ""
        raise AuthenticationFailed(reason or "authentication failed")
    return reader.leftover()


async def greet_browser(browser: Endpoint) -> tuple[bytes, bytes]:
    """Play an RFB server that needs no authentication.

    Returns the browser's ClientInit message and any bytes that followed it.
    """
    await browser.send(PROTOCOL_VERSION_3_8)
    reader = ByteReader(browser)
    minor = _minor_version(await reader.read(12), "the browser")
    if minor == 3:
        await browser.send(struct.pack(">I", SECURITY_NONE))
    else:
        await browser.send(bytes([1, SECURITY_NONE]))
        choice = await reader.read_u8()
        if choice != SECURITY_NONE:
            if minor == 8:
                reason = b"only security type None is offered"
                await browser.send(struct.pack(">II", SECURITY_RESULT_FAILED, len(reason)) + reason)
            raise HandshakeError(f"the browser chose security type {choice}, not None")
        # Before 3.8 there is no SecurityResult for type None.
        if minor == 8:
            await browser.send(struct.pack(">I", SECURITY_RESULT_OK))
    client_init = await reader.read(1)
    return client_init, reader.leftover()
