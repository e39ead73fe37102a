"""The console relay: browser (noVNC) <-> Proxmox vncwebsocket, framework-free.

`Relay.run()` logs in to Proxmox with the VNC password, lets the browser in without one
(so the password never reaches it), then copies bytes both ways unchanged. A slow
reader holds back its writer: towards the browser at most `browser_buffer` bytes wait
(sent as one message once the browser is ready, which saves per-message work under
load), towards Proxmox one message; then we stop reading (websockify instead keeps
reading from the VNC server whatever is queued).
"""

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from servers.proxmox.rfb import USER_INPUT_TYPES, ClientMessageParser

from .endpoints import Endpoint, EndpointClosed, PingableEndpoint
from .handshake import AuthenticationFailed, HandshakeError, authenticate_upstream, greet_browser
from .limits import RELAY_OUTPUT_BUFFER

logger = logging.getLogger(__name__)

# Closing must not hang teardown when a peer stopped answering.
CLOSE_TIMEOUT = 5.0


class CloseReason(enum.Enum):
    """Why a console ended: a WebSocket close code for the browser and a text the page can show."""

    def __init__(self, code: int, text: str) -> None:
        self.code = code
        self.text = text

    CLIENT_CLOSED = (4000, "The console was closed.")
    UNAUTHORIZED = (4001, "Proxmox refused the console login.")
    # Not returned by Relay.run(): for the consumer to close with before starting a relay.
    FORBIDDEN = (4003, "You may not open this console.")
    # Not a close either: a token nobody used within its lifetime (console.services closes its record).
    TOKEN_EXPIRED = (4401, "The console token expired before it was used.")
    GUEST_NOT_RUNNING = (4004, "The guest is not running.")
    IDLE_TIMEOUT = (4408, "The console was closed after a period without input.")
    MAX_DURATION = (4409, "The console reached its maximum duration.")
    TERMINATED = (4410, "The console was ended by an administrator.")
    # Ended because the user may no longer open it: removed, role lowered, grant taken back, account or tenant or
    # server deactivated, consoles turned off, or logged out.
    WITHDRAWN = (4411, "Your access was withdrawn: this console was closed.")
    ERROR = (4500, "The console failed.")
    UPSTREAM_CLOSED = (4501, "Proxmox closed the console (the guest may have stopped).")
    UPSTREAM_UNREACHABLE = (4502, "Proxmox is unreachable.")
    # The web process stops (restart, deploy; also when run() itself is cancelled): the page reconnects.
    SHUTDOWN = (1001, "The server is shutting down.")
    # Recorded by the stale-session task for a relay that stopped beating (its process died); a relay that still
    # lives and finds its record closed so ends with it, and the page reconnects.
    RELAY_LOST = (4503, "The portal lost this console's relay.")
    # Refused at once (console.admission): the process has as many consoles as it takes on; the page tries again.
    BUSY = (4504, "The portal is busy: too many consoles are opening at once.")
    # The web process stops (console.flow on SIGTERM): the page reconnects at once, through the balancer, to another.
    SERVICE_RESTARTING = (1012, "The portal is restarting.")

    @property
    def final(self) -> bool:
        """Whether another try would end the same way, so the console page stops instead of reconnecting."""
        return self in _FINAL_REASONS


_FINAL_REASONS = frozenset(
    {
        CloseReason.UNAUTHORIZED,
        CloseReason.FORBIDDEN,
        CloseReason.GUEST_NOT_RUNNING,
        CloseReason.IDLE_TIMEOUT,
        CloseReason.MAX_DURATION,
        CloseReason.TERMINATED,
        CloseReason.WITHDRAWN,
    }
)


@dataclass(frozen=True)
class RelayLimits:
    idle_timeout: float | None = None  # seconds without user input
    max_duration: float | None = None  # seconds from the start of run()
    ping_interval: float | None = 20.0  # pvedaemon drops consoles it hears nothing from
    handshake_timeout: float = 10.0
    # Bytes from Proxmox held while the browser is busy; they then leave as one message (fewer, larger sends).
    browser_buffer: int = RELAY_OUTPUT_BUFFER


class _Outbox:
    """Bytes on their way to a slower peer: `put` waits once `limit` are held, `take` empties it at once."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        self._filled = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()

    async def put(self, data: bytes) -> None:
        while self._size >= self._limit:
            self._drained.clear()
            await self._drained.wait()
        self._chunks.append(data)
        self._size += len(data)
        self._filled.set()

    async def take(self) -> bytes:
        while not self._chunks:
            self._filled.clear()
            await self._filled.wait()
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks, self._size = [], 0
        self._drained.set()
        return data


class Relay:
    """One console session. `run()` once; `terminate()` from anywhere in the same loop.

    Counters for the session record: `bytes_to_browser`, `bytes_to_upstream`, and
    `last_activity` (the `clock` reading at the last user input, or at the start).
    """

    def __init__(
        self,
        browser: Endpoint,
        upstream: PingableEndpoint,
        *,
        password: str,
        limits: RelayLimits,
        clock: Callable[[], float] = time.monotonic,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.browser = browser
        self.upstream = upstream
        self._password = password
        self.limits = limits
        self._clock = clock
        self._on_ready = on_ready
        self._parser = ClientMessageParser()
        self._terminated = asyncio.Event()
        self._termination = CloseReason.TERMINATED
        self._tasks: set[asyncio.Task] = set()
        self._started = clock()
        self.last_activity = self._started
        self.bytes_to_browser = 0
        self.bytes_to_upstream = 0

    def terminate(self, reason: CloseReason = CloseReason.TERMINATED) -> None:
        """End the session for `reason`: TERMINATED (an administrator's decision) or WITHDRAWN (access taken away)."""
        self._termination = reason
        self._terminated.set()

    async def run(self) -> CloseReason:
        """Handshake both sides, relay until something ends it, close both sides, say why."""
        self._started = self.last_activity = self._clock()
        try:
            reason = await self._session()
        except asyncio.CancelledError:
            await self._teardown(CloseReason.SHUTDOWN.code, CloseReason.SHUTDOWN.text)
            raise
        except Exception:
            logger.exception("console relay failed")
            reason = CloseReason.ERROR
        await self._teardown(reason.code, reason.text)
        return reason

    async def _session(self) -> CloseReason:
        guards = [self._spawn(self._until_terminated())]
        if self.limits.idle_timeout is not None or self.limits.max_duration is not None:
            guards.append(self._spawn(self._watch_deadlines()))
        outcome = await self._first(self._spawn(self._handshake()), *guards)
        if isinstance(outcome, CloseReason):
            return outcome
        upstream_leftover, browser_leftover = outcome
        if self._on_ready is not None:
            self._on_ready()
        outbox = _Outbox(self.limits.browser_buffer)
        pumps = [
            self._spawn(self._read_upstream(upstream_leftover, outbox)),
            self._spawn(self._write_browser(outbox)),
            self._spawn(self._pump(browser_leftover, self.browser, self.upstream, self._delivered_to_upstream)),
        ]
        if self.limits.ping_interval:
            pumps.append(self._spawn(self._ping_upstream()))
        return await self._first(*pumps, *guards)

    async def _handshake(self) -> CloseReason | tuple[bytes, bytes]:
        step = "upstream"
        try:
            async with asyncio.timeout(self.limits.handshake_timeout):
                upstream_leftover = await authenticate_upstream(self.upstream, self._password)
                step = "browser"
                client_init, browser_leftover = await greet_browser(self.browser)
                step = "upstream"
                await self.upstream.send(client_init)
        except AuthenticationFailed as exc:
            logger.warning("Proxmox refused the VNC password: %s", exc)
            return CloseReason.UNAUTHORIZED
        except HandshakeError as exc:
            logger.warning("console handshake failed: %s", exc)
            return CloseReason.ERROR
        except EndpointClosed:
            return CloseReason.UPSTREAM_CLOSED if step == "upstream" else CloseReason.CLIENT_CLOSED
        except TimeoutError:
            logger.warning("console handshake with the %s timed out", step)
            return CloseReason.UPSTREAM_UNREACHABLE if step == "upstream" else CloseReason.ERROR
        self.bytes_to_upstream += len(client_init)
        return upstream_leftover, browser_leftover

    async def _pump(
        self, data: bytes, source: Endpoint, sink: Endpoint, delivered: Callable[[bytes], None]
    ) -> CloseReason:
        """Copy `source` to `sink`, reading the next message only once the last was delivered."""
        while True:
            if data:
                try:
                    await sink.send(data)
                except EndpointClosed:
                    return self._gone(sink)
                delivered(data)
            try:
                data = await source.recv()
            except EndpointClosed:
                return self._gone(source)

    async def _read_upstream(self, data: bytes, outbox: _Outbox) -> CloseReason:
        while True:
            if data:
                await outbox.put(data)
            try:
                data = await self.upstream.recv()
            except EndpointClosed:
                return CloseReason.UPSTREAM_CLOSED

    async def _write_browser(self, outbox: _Outbox) -> CloseReason:
        while True:
            data = await outbox.take()
            try:
                await self.browser.send(data)
            except EndpointClosed:
                return CloseReason.CLIENT_CLOSED
            self.bytes_to_browser += len(data)

    def _gone(self, endpoint: Endpoint) -> CloseReason:
        return CloseReason.CLIENT_CLOSED if endpoint is self.browser else CloseReason.UPSTREAM_CLOSED

    def _delivered_to_upstream(self, data: bytes) -> None:
        self.bytes_to_upstream += len(data)
        # noVNC asks for framebuffer updates all the time; only a person's input counts.
        # A stream we cannot parse any more counts as input, to never cut off a user.
        messages = self._parser.feed(data)
        if self._parser.failed or any(kind in USER_INPUT_TYPES for kind, _ in messages):
            self.last_activity = self._clock()

    async def _ping_upstream(self) -> CloseReason:
        while True:
            await asyncio.sleep(self.limits.ping_interval)
            try:
                await self.upstream.ping()
            except EndpointClosed:
                return CloseReason.UPSTREAM_CLOSED

    async def _until_terminated(self) -> CloseReason:
        await self._terminated.wait()
        return self._termination

    async def _watch_deadlines(self) -> CloseReason:
        idle_timeout, max_duration = self.limits.idle_timeout, self.limits.max_duration
        while True:
            now = self._clock()
            waits = []
            if max_duration is not None:
                left = self._started + max_duration - now
                if left <= 0:
                    return CloseReason.MAX_DURATION
                waits.append(left)
            if idle_timeout is not None:
                left = self.last_activity + idle_timeout - now
                if left <= 0:
                    return CloseReason.IDLE_TIMEOUT
                waits.append(left)
            await asyncio.sleep(min(waits))

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        return task

    @staticmethod
    async def _first(*tasks: asyncio.Task) -> Any:
        """The result of the first task to finish (ties go to the earlier argument)."""
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return next(task for task in tasks if task in done).result()

    async def _teardown(self, code: int, text: str) -> None:
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(
            self._close(self.browser, code, text),
            self._close(self.upstream, 1000, text),
        )

    @staticmethod
    async def _close(endpoint: Endpoint, code: int, text: str) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await endpoint.close(code, text)
        except Exception as exc:  # the peer may already be gone; nothing left to do
            logger.debug("closing a console endpoint failed: %r", exc)
