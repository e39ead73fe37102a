"""The small parts of the RFB (VNC) protocol that both the console relay and the simulator need.

Proxmox's consoles speak RFB, so it lives with the Proxmox package, where the relay (console app) and the simulator
(servers.pvesim) may both import it. Framework-free: the ProtocolVersion message, VNC Authentication's DES response,
and a parser that splits the client-to-server byte stream into whole messages (the relay uses it to tell user input
from noVNC's constant update requests; the simulator to record key events).
"""

import re
import struct

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

PROTOCOL_VERSION_3_8 = b"RFB 003.008\n"
# ProtocolVersion, the 12 bytes each side sends first.
_PROTOCOL_VERSION = re.compile(rb"RFB (\d{3})\.(\d{3})\n")
SECURITY_NONE = 1
SECURITY_VNC_AUTH = 2
SECURITY_RESULT_OK = 0
SECURITY_RESULT_FAILED = 1

SET_PIXEL_FORMAT = 0
SET_ENCODINGS = 2
FRAMEBUFFER_UPDATE_REQUEST = 3
KEY_EVENT = 4
POINTER_EVENT = 5
CLIENT_CUT_TEXT = 6
ENABLE_CONTINUOUS_UPDATES = 150
CLIENT_FENCE = 248
XVP = 250
SET_DESKTOP_SIZE = 251
QEMU_CLIENT_MESSAGE = 255
QEMU_EXTENDED_KEY_EVENT = 0

# What a person does at the console, as opposed to the client asking for pixels.
USER_INPUT_TYPES = frozenset({KEY_EVENT, POINTER_EVENT, CLIENT_CUT_TEXT, QEMU_CLIENT_MESSAGE})

# A clipboard larger than this is not a clipboard; refuse rather than buffer it.
MAX_CUT_TEXT = 1 << 20


def parse_version(greeting: bytes) -> tuple[int, int] | None:
    """(major, minor) of a ProtocolVersion message; None when `greeting` is not one."""
    match = _PROTOCOL_VERSION.fullmatch(greeting)
    return (int(match[1]), int(match[2])) if match else None


def vnc_auth_response(password: str, challenge: bytes) -> bytes:
    """Encrypt the server's 16-byte challenge as VNC Authentication asks.

    The key is the first 8 bytes of the password, zero padded, each byte with its
    bits mirrored (a quirk of the original VNC's DES). TripleDES with the key
    repeated three times is single DES.
    """
    if len(challenge) != 16:
        raise ValueError("a VNC challenge is 16 bytes")
    key = password.encode("latin-1", errors="replace")[:8].ljust(8, b"\0")
    key = bytes(int(f"{byte:08b}"[::-1], 2) for byte in key)
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


def _message_length(buffer: bytearray) -> int | None:
    """Length of the whole message at the start of `buffer`, None if not yet known.

    Raises ValueError for a message type this parser does not know.
    """
    kind = buffer[0]
    fixed = {
        SET_PIXEL_FORMAT: 20,
        FRAMEBUFFER_UPDATE_REQUEST: 10,
        KEY_EVENT: 8,
        POINTER_EVENT: 6,
        ENABLE_CONTINUOUS_UPDATES: 10,
        XVP: 4,
    }
    if kind in fixed:
        return fixed[kind]
    if kind == SET_ENCODINGS:
        return None if len(buffer) < 4 else 4 + 4 * struct.unpack_from(">H", buffer, 2)[0]
    if kind == CLIENT_CUT_TEXT:
        if len(buffer) < 8:
            return None
        # A negative length announces the Extended Clipboard format; its size is the absolute value.
        length = abs(struct.unpack_from(">i", buffer, 4)[0])
        if length > MAX_CUT_TEXT:
            raise ValueError(f"client cut text of {length} bytes is too large")
        return 8 + length
    if kind == CLIENT_FENCE:
        return None if len(buffer) < 9 else 9 + buffer[8]
    if kind == SET_DESKTOP_SIZE:
        return None if len(buffer) < 7 else 8 + 16 * buffer[6]
    if kind == QEMU_CLIENT_MESSAGE:
        if len(buffer) < 2:
            return None
        if buffer[1] == QEMU_EXTENDED_KEY_EVENT:
            return 12
        raise ValueError(f"unknown QEMU client message subtype {buffer[1]}")
    raise ValueError(f"unknown RFB client message type {kind}")


class ClientMessageParser:
    """Splits the client-to-server stream (after ClientInit) into whole messages.

    `feed()` returns the messages completed by the new bytes as (type, message bytes).
    After an unknown type the stream cannot be framed any more: `failed` turns True
    and every later call returns nothing, so callers can fall back to treating all
    traffic alike instead of misreading it.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.failed = False

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self.failed:
            return []
        self._buffer += data
        messages = []
        while self._buffer:
            try:
                length = _message_length(self._buffer)
            except ValueError:
                self.failed = True
                self._buffer.clear()
                break
            if length is None or len(self._buffer) < length:
                break
            messages.append((self._buffer[0], bytes(self._buffer[:length])))
            del self._buffer[:length]
        return messages
