"""termproxy's side of an xterm.js console: a login line, "OK", then a tiny line-echo shell.

Client messages (a byte stream, several may share one WebSocket frame):
`0:<bytelen>:<data>` input, `1:<cols>:<rows>:` resize, `2` ping.
"""

import asyncio
from collections.abc import Awaitable, Callable

from .state import SimGuest


class TermSessionError(Exception):
    """The client sent something termproxy does not accept; the connection ends."""


class TermSession:
    def __init__(
        self,
        guest: SimGuest,
        user: str,
        ticket: str,
        reader: asyncio.StreamReader,
        send: Callable[[bytes], Awaitable[None]],
    ):
        self.guest, self.user, self.ticket = guest, user, ticket
        self.reader, self.send = reader, send
        self.prompt = f"root@{guest.name}:~# ".encode()
        self._line = bytearray()

    async def run(self) -> None:
        try:
            login = await self.reader.readuntil(b"\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        if login[:-1].decode(errors="replace") != f"{self.user}:{self.ticket}":
            return  # termproxy closes without a word on a bad login line
        await self.send(b"OK")
        await self.send(f"Connected to {self.guest.name} (simulated serial console)\r\n".encode() + self.prompt)
        buffer = bytearray()
        while data := await self.reader.read(65536):
            buffer += data
            await self._consume(buffer)

    async def _consume(self, buffer: bytearray) -> None:
        while buffer:
            kind = buffer[:1]
            if kind == b"2":
                del buffer[:1]
            elif kind == b"1":
                parts = buffer.split(b":", 3)
                if len(parts) < 4:
                    return
                self.guest.terminal_size = (int(parts[1]), int(parts[2]))
                del buffer[: len(parts[0]) + len(parts[1]) + len(parts[2]) + 3]
            elif kind == b"0":
                parts = buffer.split(b":", 2)
                if len(parts) < 3:
                    return
                length = int(parts[1])
                start = len(parts[0]) + len(parts[1]) + 2
                if len(buffer) < start + length:
                    return
                data = bytes(buffer[start : start + length])
                del buffer[: start + length]
                await self._input(data)
            else:
                raise TermSessionError(f"unknown termproxy message {bytes(buffer[:16])!r}")

    async def _input(self, data: bytes) -> None:
        out = bytearray()
        for byte in data:
            if byte in (0x0D, 0x0A):
                line = self._line.decode(errors="replace")
                self._line.clear()
                self.guest.terminal_lines.append(line)
                out += b"\r\n" + (line.encode() + b"\r\n" if line else b"") + self.prompt
            elif byte in (0x7F, 0x08):
                if self._line:
                    del self._line[-1:]
                    out += b"\b \b"
            elif byte == 0x03:
                self._line.clear()
                out += b"^C\r\n" + self.prompt
            elif byte >= 0x20:
                self._line.append(byte)
                out.append(byte)
        if out:
            await self.send(bytes(out))
