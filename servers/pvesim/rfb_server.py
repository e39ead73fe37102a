"""An RFB 3.8 server for one console connection, as QEMU's VNC server behaves behind vncproxy.

VNC Authentication only, Raw encoding only. The screen shows the guest's name, a
clock, what was typed and a moving bar, so clients can check for non-blank and
changing pixels. The framebuffer is kept as one palette index per pixel and turned
into the client's pixel format with `bytes.translate`, which stays fast in pure Python.
"""

import asyncio
import hmac
import os
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from servers.proxmox.rfb import (
    CLIENT_CUT_TEXT,
    FRAMEBUFFER_UPDATE_REQUEST,
    KEY_EVENT,
    POINTER_EVENT,
    QEMU_CLIENT_MESSAGE,
    QEMU_EXTENDED_KEY_EVENT,
    SECURITY_RESULT_FAILED,
    SECURITY_RESULT_OK,
    SECURITY_VNC_AUTH,
    SET_ENCODINGS,
    SET_PIXEL_FORMAT,
    ClientMessageParser,
    parse_version,
    vnc_auth_response,
)

from .font import draw_text
from .state import SimGuest

PALETTE = ((16, 32, 64), (235, 235, 235), (255, 140, 0), (120, 150, 200))
BACKGROUND, TEXT, ACCENT, DIM = range(4)
TICKS_PER_SECOND = 4
RAW_ENCODING = 0


class RfbSessionError(Exception):
    """The client broke the protocol or failed authentication; the connection ends."""


@dataclass(frozen=True)
class PixelFormat:
    bits_per_pixel: int = 32
    depth: int = 24
    big_endian: bool = False
    true_colour: bool = True
    red_max: int = 255
    green_max: int = 255
    blue_max: int = 255
    red_shift: int = 16
    green_shift: int = 8
    blue_shift: int = 0

    def pack(self) -> bytes:
        return struct.pack(
            ">BBBBHHHBBB3x",
            self.bits_per_pixel,
            self.depth,
            self.big_endian,
            self.true_colour,
            self.red_max,
            self.green_max,
            self.blue_max,
            self.red_shift,
            self.green_shift,
            self.blue_shift,
        )

    @classmethod
    def unpack(cls, data: bytes) -> "PixelFormat":
        fields = struct.unpack(">BBBBHHHBBB3x", data)
        return cls(fields[0], fields[1], bool(fields[2]), bool(fields[3]), *fields[4:])

    def plane_tables(self) -> list[bytes]:
        """For each byte of a pixel, a translate table from palette index to that byte."""
        size = self.bits_per_pixel // 8
        tables = [bytearray(256) for _ in range(size)]
        order = "big" if self.big_endian else "little"
        for index, (red, green, blue) in enumerate(PALETTE):
            value = (
                (red * self.red_max // 255) << self.red_shift
                | (green * self.green_max // 255) << self.green_shift
                | (blue * self.blue_max // 255) << self.blue_shift
            )
            for plane, byte in enumerate((value & ((1 << (8 * size)) - 1)).to_bytes(size, order)):
                tables[plane][index] = byte
        return [bytes(table) for table in tables]


def encode_pixels(indices: bytes, tables: list[bytes]) -> bytes:
    size = len(tables)
    if size == 1:
        return indices.translate(tables[0])
    out = bytearray(len(indices) * size)
    for plane, table in enumerate(tables):
        out[plane::size] = indices.translate(table)
    return bytes(out)


class GuestScreen:
    """What the guest's display shows at a given moment, as palette indices."""

    def __init__(self, guest: SimGuest, width: int, height: int):
        self.guest, self.width, self.height = guest, width, height
        self._cache_key: tuple | None = None
        self._cache = bytearray()

    @staticmethod
    def next_change(now: float) -> float:
        return (int(now * TICKS_PER_SECOND) + 1) / TICKS_PER_SECOND

    def frame(self, now: float) -> bytearray:
        tick = int(now * TICKS_PER_SECOND)
        key = (tick, len(self.guest.keys), self.guest.name)
        if key != self._cache_key:
            self._cache_key, self._cache = key, self._render(now, tick)
        return self._cache

    def _render(self, now: float, tick: int) -> bytearray:
        width, height, guest = self.width, self.height, self.guest
        pixels = bytearray(width * height)
        scale = max(1, min(6, width // 160))
        draw_text(pixels, width, 20, 20, guest.name, scale, TEXT)
        small = max(1, scale // 2)
        line = 20 + 10 * scale
        draw_text(pixels, width, 20, line, f"VMID {guest.vmid} {guest.kind.upper()} ON {guest.node}", small, DIM)
        draw_text(pixels, width, 20, line + 12 * small, time.strftime("%H:%M:%S", time.gmtime(now)), small, TEXT)
        draw_text(pixels, width, 20, line + 24 * small, "> " + guest.typed_text()[-40:], small, TEXT)
        bar_width = max(8, width // 8)
        bar_top = max(0, height - 4 * small - 8)
        bar_left = (tick * 8 * small) % max(1, width - bar_width)
        run = bytes([ACCENT]) * bar_width
        for row in range(bar_top, min(height, bar_top + 4 * small)):
            pixels[row * width + bar_left : row * width + bar_left + bar_width] = run
        return pixels


class RfbServerSession:
    """One RFB connection: handshake, then client messages in, framebuffer updates out.

    `reader` yields the client's bytes, `send` writes to the client. Only the update
    task writes after the handshake, so writes never interleave.
    """

    def __init__(
        self,
        guest: SimGuest,
        password: str,
        reader: asyncio.StreamReader,
        send: Callable[[bytes], Awaitable[None]],
        width: int = 800,
        height: int = 600,
    ):
        self.guest = guest
        self.password = password
        self.reader = reader
        self.send = send
        self.screen = GuestScreen(guest, width, height)
        self.pixel_format = PixelFormat()
        self.encodings: list[int] = []
        self._tables = self.pixel_format.plane_tables()
        self._client_view = bytearray(b"\xff" * (width * height))  # nothing the client has matches
        self._request: tuple[bool, int, int, int, int] | None = None
        self._wake = asyncio.Event()

    async def run(self) -> None:
        try:
            if not await self._handshake():
                return
        except asyncio.IncompleteReadError:
            return
        await self.serve()

    async def serve(self) -> None:
        """After ServerInit: answer update requests and record input until the client leaves."""
        updater = asyncio.create_task(self._update_loop())
        try:
            await self._read_loop()
        finally:
            updater.cancel()
            await asyncio.gather(updater, return_exceptions=True)

    async def _handshake(self) -> bool:
        await self.send(b"RFB 003.008\n")
        version = await self.reader.readexactly(12)
        parsed = parse_version(version)
        if parsed is None or parsed[0] != 3:
            raise RfbSessionError(f"unsupported protocol version {version!r}")
        minor = min(parsed[1], 8)
        if minor >= 7:
            await self.send(bytes([1, SECURITY_VNC_AUTH]))
            if (await self.reader.readexactly(1))[0] != SECURITY_VNC_AUTH:
                await self._fail(minor, "security type not offered")
                return False
        else:
            await self.send(struct.pack(">I", SECURITY_VNC_AUTH))
        challenge = os.urandom(16)
        await self.send(challenge)
        response = await self.reader.readexactly(16)
        if not hmac.compare_digest(response, vnc_auth_response(self.password, challenge)):
            await self._fail(minor, "Authentication failed")
            return False
        await self.send(struct.pack(">I", SECURITY_RESULT_OK))
        await self.reader.readexactly(1)  # ClientInit: shared flag, every connection is shared
        self.guest.rfb_connections += 1
        name = self.guest.name.encode()
        await self.send(
            struct.pack(">HH", self.screen.width, self.screen.height)
            + self.pixel_format.pack()
            + struct.pack(">I", len(name))
            + name
        )
        return True

    async def _fail(self, minor: int, reason: str) -> None:
        message = struct.pack(">I", SECURITY_RESULT_FAILED)
        if minor >= 8:
            message += struct.pack(">I", len(reason)) + reason.encode()
        await self.send(message)

    async def _read_loop(self) -> None:
        parser = ClientMessageParser()
        while data := await self.reader.read(65536):
            for kind, message in parser.feed(data):
                self._handle(kind, message)
            if parser.failed:
                raise RfbSessionError("unknown client message")

    def _handle(self, kind: int, message: bytes) -> None:
        guest = self.guest
        if kind == SET_PIXEL_FORMAT:
            pixel_format = PixelFormat.unpack(message[4:20])
            if not pixel_format.true_colour or pixel_format.bits_per_pixel not in (8, 16, 32):
                raise RfbSessionError("only true-colour pixel formats of 8, 16 or 32 bits are supported")
            self.pixel_format, self._tables = pixel_format, pixel_format.plane_tables()
        elif kind == SET_ENCODINGS:
            count = struct.unpack_from(">H", message, 2)[0]
            self.encodings = list(struct.unpack_from(f">{count}i", message, 4))
        elif kind == FRAMEBUFFER_UPDATE_REQUEST:
            incremental = bool(message[1])
            x, y, width, height = struct.unpack_from(">HHHH", message, 2)
            if self._request is not None and not self._request[0]:
                incremental = False  # a pending full request is not downgraded
            self._request = (incremental, x, y, width, height)
            self._wake.set()
        elif kind == KEY_EVENT:
            guest.keys.append((bool(message[1]), struct.unpack_from(">I", message, 4)[0]))
            self._wake.set()
        elif kind == POINTER_EVENT:
            guest.pointer = (message[1], *struct.unpack_from(">HH", message, 2))
        elif kind == CLIENT_CUT_TEXT:
            if struct.unpack_from(">i", message, 4)[0] >= 0:
                guest.clipboard.append(message[8:].decode("latin-1"))
        elif kind == QEMU_CLIENT_MESSAGE and message[1] == QEMU_EXTENDED_KEY_EVENT:
            down, keysym = struct.unpack_from(">HI", message, 2)
            guest.keys.append((bool(down), keysym))
            self._wake.set()

    def _clip(self, x: int, y: int, width: int, height: int) -> tuple[int, int, int, int]:
        x, y = min(x, self.screen.width), min(y, self.screen.height)
        return x, y, min(width, self.screen.width - x), min(height, self.screen.height - y)

    def _dirty(self, frame: bytearray, x: int, y: int, width: int, height: int):
        """The rows of the requested area that differ from what the client has, or None."""
        rows = [
            row
            for row in range(y, y + height)
            if frame[row * self.screen.width + x : row * self.screen.width + x + width]
            != self._client_view[row * self.screen.width + x : row * self.screen.width + x + width]
        ]
        if not rows:
            return None
        return x, rows[0], width, rows[-1] - rows[0] + 1

    async def _update_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._request is not None:
                incremental, *area = self._request
                now = time.time()
                frame = self.screen.frame(now)
                area = self._clip(*area)
                rect = self._dirty(frame, *area) if incremental else area
                if rect is None:
                    # Nothing new yet: answer when the picture next changes or input arrives.
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.screen.next_change(now) - now)
                    except TimeoutError:
                        pass
                    self._wake.clear()
                    continue
                self._request = None
                await self._send_update(frame, rect)

    async def _send_update(self, frame: bytearray, rect: tuple[int, int, int, int]) -> None:
        x, y, width, height = rect
        stride = self.screen.width
        rows = b"".join(frame[row * stride + x : row * stride + x + width] for row in range(y, y + height))
        for row in range(y, y + height):
            self._client_view[row * stride + x : row * stride + x + width] = frame[
                row * stride + x : row * stride + x + width
            ]
        header = struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", x, y, width, height, RAW_ENCODING)
        await self.send(header + encode_pixels(rows, self._tables))
