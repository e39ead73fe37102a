"""The browser's console WebSocket: checks the one-time token, then hands both sides to the relay.

The console's bytes never go through the channel layer (Redis); only control messages do (an administrator's End, a
withdrawal). So a console does not depend on Redis being up: when the layer fails, the consumer keeps relaying and
retries it with back-off, and meanwhile learns of an End from its session record on its heartbeat. Whatever ends the
consumer (the browser, Proxmox, an End, the process shutting down, an error) ends its relay and records the close,
retrying through a database restart.
"""

import asyncio
import logging
import random
import time
from collections.abc import Iterator
from functools import cache

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from django.conf import settings
from django.db import DatabaseError

from metrics.models import ConnectionMetric
from metrics.recorder import metric_record
from nexus import telemetry
from nexus.http import scope_client_ip
from nexus.ws_auth import websocket_database
from servers import proxmox

from . import services
from .admission import Admission
from .endpoints import QueueEndpoint, UpstreamEndpoint
from .relay import CloseReason, Relay, RelayLimits

logger = logging.getLogger(__name__)

# Retrying the channel layer, the heartbeat and the close record: from half a second up to this many seconds.
RETRY_FIRST = 0.5
RETRY_MOST = 10.0
# How long the close record is retried (a database restart); after that the stale-session task closes it.
RECORD_PATIENCE = 120.0


def _backoff() -> Iterator[float]:
    """Waits between tries: doubling, capped, with jitter so many consoles do not retry in step."""
    delay = RETRY_FIRST
    while True:
        yield delay * random.uniform(0.8, 1.2)
        delay = min(delay * 2, RETRY_MOST)


def _reason_for(error: proxmox.ProxmoxError) -> CloseReason:
    if isinstance(error, (proxmox.Unreachable, proxmox.TimedOut, proxmox.TLSFailure)):
        return CloseReason.UPSTREAM_UNREACHABLE
    if isinstance(error, (proxmox.AuthenticationFailed, proxmox.PermissionDenied)):
        return CloseReason.UNAUTHORIZED
    if isinstance(error, proxmox.GuestNotRunning):
        return CloseReason.GUEST_NOT_RUNNING
    return CloseReason.ERROR


def _limits(tenant) -> RelayLimits:
    return RelayLimits(
        idle_timeout=tenant.console_idle_timeout or None,
        max_duration=tenant.console_max_duration or None,
    )


@cache
def admission() -> Admission:
    """This process's Admission, sized by the settings the first time a console arrives."""
    return Admission(opening_limit=settings.CONSOLE_OPENING_LIMIT, capacity=settings.CONSOLE_PROCESS_LIMIT)


class ConsoleConsumer(AsyncWebsocketConsumer):
    session = None
    relay = None
    relay_task = None
    opening = None  # the task asking Proxmox for the console, before the relay exists
    browser = None
    place = None  # this console's place in the process (console.admission)
    end_reason = None  # why a control message, the heartbeat or the shutdown ended the session
    restarting = False  # console.flow closed the WebSocket because the process is stopping

    async def __call__(self, scope, receive, send):
        # Channels' own steps, except that the channel layer is read by _receive_control (which outlives a Redis
        # outage), and that the relay ends and is recorded however this ends.
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.base_send = send

        # Browser input waits for the relay here, in the receive callable, rather than in its
        # handler: Channels dispatches one message at a time, so a handler that waits would hold
        # up channel-layer messages too, such as an administrator ending this session.
        async def receive_when_relay_has_room():
            if self.browser is not None:
                await self.browser.room()
            return await receive()

        try:
            await await_many_dispatch([receive_when_relay_has_room, self._receive_control], self.dispatch)
        except StopConsumer:
            pass  # the browser went: disconnect() told the relay
        except BaseException as error:
            # The server stops (this is cancelled) or something failed: the relay must not outlive the consumer.
            self._end(CloseReason.SHUTDOWN if isinstance(error, asyncio.CancelledError) else CloseReason.ERROR)
            raise
        finally:
            if self.relay_task is not None:
                # Shielded: should this be cancelled again, the relay still ends and records its close.
                await asyncio.shield(self.relay_task)

    async def _receive_control(self):
        for delay in _backoff():
            try:
                return await self.channel_layer.receive(self.channel_name)
            except Exception as error:  # whatever the layer's backend raises: the console goes on without it
                logger.warning("console: the channel layer failed (%r); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # _backoff() never ends

    async def connect(self):
        self.connected_at = time.monotonic()
        self.place = admission().admit()
        if self.place is None:
            # Refused with a reason the page shows (and retries after): past the handshake, so it can be given.
            telemetry.CONSOLE_OPENS.labels(outcome=CloseReason.BUSY.name.lower()).inc()
            await self.accept(self._subprotocol())
            await self.close(code=CloseReason.BUSY.code, reason=CloseReason.BUSY.text)
            return
        telemetry.CONSOLES_OPEN.inc()
        try:
            with telemetry.CONSOLE_CLAIM.time():
                self.session = await websocket_database(services.console_session_claim)(
                    token=services.console_token_offered(self.scope.get("subprotocols", [])),
                    user=self.scope["user"],
                    channel_name=self.channel_name,
                    client_ip=scope_client_ip(self.scope),
                    login_key=getattr(self.scope.get("session"), "session_key", None),
                )
        finally:
            if self.session is None:  # refused, or the claim failed: its place is free again
                self._leave()
        if self.session is None:
            telemetry.CONSOLE_OPENS.labels(outcome="refused").inc()
            await self.close()  # before accept: the handshake is refused with 403
            return
        await self.accept(self._subprotocol())
        self.browser = QueueEndpoint(self._send_bytes, self._close_browser)
        self.relay_task = asyncio.create_task(self._run())

    def _subprotocol(self) -> str | None:
        # Never the token's subprotocol: the answer names `binary` only.
        return "binary" if "binary" in self.scope.get("subprotocols", []) else None

    async def dispatch(self, message):
        # Browser input touches no database: skip Channels' close_old_connections per message
        # (a hop to the sync thread), which added to every keystroke's round trip.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None and self.browser is not None:
            self.browser.feed(bytes_data)

    async def disconnect(self, code):
        self.restarting = code == CloseReason.SERVICE_RESTARTING.code
        if self.browser is not None:
            self.browser.feed_closed()

    async def console_terminate(self, event):
        self._end(CloseReason[event.get("reason", CloseReason.TERMINATED.name)])

    def _end(self, reason: CloseReason) -> None:
        """End the session for `reason`: the relay closes both sides, or, before it started, the start is abandoned
        (never the recording of the close, which follows either)."""
        self.end_reason = self.end_reason or reason
        if self.relay is not None:
            self.relay.terminate(self.end_reason)
        elif self.opening is not None:
            self.opening.cancel()

    def _relay_ready(self) -> None:
        self.place.opened()
        telemetry.CONSOLE_FIRST_FRAME.observe(time.monotonic() - self.connected_at)
        telemetry.CONSOLE_OPENS.labels(outcome="opened").inc()

    def _leave(self) -> None:
        """Give this console's place in the process back (once, whichever way it ended)."""
        if self.place.release():
            telemetry.CONSOLES_OPEN.dec()

    async def _send_bytes(self, data: bytes) -> None:
        await self.send(bytes_data=data)
        telemetry.CONSOLE_BYTES.labels(direction="to_browser").inc(len(data))

    async def _close_browser(self, code: int, reason: str) -> None:
        await self.close(code=code, reason=reason)

    async def _run(self) -> None:
        heartbeat = asyncio.create_task(self._heartbeat())
        reason = CloseReason.ERROR
        try:
            reason = await self._relay_session()
        finally:
            heartbeat.cancel()
            # Nobody reads the browser's input any more: the receive callable must not wait for room.
            self.browser.feed_closed()
            relay = self.relay
            await self._record_close(
                reason,
                bytes_to_client=relay.bytes_to_browser if relay else 0,
                bytes_to_server=relay.bytes_to_upstream if relay else 0,
            )

    async def _relay_session(self) -> CloseReason:
        session = self.session
        started = time.monotonic()
        self.opening = asyncio.ensure_future(
            proxmox.open_console(session.server.connection(), session.node, session.guest_type, session.vmid)
        )
        try:
            with telemetry.CONSOLE_UPSTREAM_OPEN.time():
                upstream = await self.opening
        except proxmox.ProxmoxError as error:
            logger.info("console session %s: Proxmox refused or failed: %s", session.pk, error.message)
            metric_record(
                server_id=session.server_id,
                kind=ConnectionMetric.Kind.CONSOLE,
                success=False,
                elapsed=None,
                error=error.message,
            )
            reason = _reason_for(error)
            await self._close_browser(reason.code, reason.text)
            return reason
        except asyncio.CancelledError:
            reason = self.end_reason or CloseReason.SHUTDOWN
            await self._close_browser(reason.code, reason.text)
            return reason
        metric_record(
            server_id=session.server_id,
            kind=ConnectionMetric.Kind.CONSOLE,
            success=True,
            elapsed=time.monotonic() - started,
        )
        self.relay = Relay(
            self.browser,
            UpstreamEndpoint(upstream.stream, on_round_trip=telemetry.CONSOLE_ROUND_TRIP.observe),
            password=upstream.password,
            limits=_limits(session.tenant),
            on_ready=self._relay_ready,
        )
        if self.end_reason is not None:  # ended before Proxmox was asked
            self.relay.terminate(self.end_reason)
        return await self.relay.run()

    async def _heartbeat(self) -> None:
        """Tell the record the relay lives; end the relay when the record was closed or deleted meanwhile (an End
        the channel layer could not carry). A database outage does not end the console: the beat is retried."""
        delays = _backoff()
        wait = services.HEARTBEAT_INTERVAL.total_seconds()
        while True:
            await asyncio.sleep(wait)
            try:
                ended = await websocket_database(services.console_session_heartbeat)(session=self.session)
            except DatabaseError as error:
                wait = next(delays)
                logger.warning(
                    "console session %s: heartbeat failed (%s); retrying in %.1f s", self.session.pk, error, wait
                )
                continue
            if ended is not None:
                self._end(ended)
                return
            delays, wait = _backoff(), services.HEARTBEAT_INTERVAL.total_seconds()

    async def _record_close(self, reason: CloseReason, **counts: int) -> None:
        """Record the end, retrying through a database restart for up to RECORD_PATIENCE seconds."""
        if self.restarting:
            reason = CloseReason.SERVICE_RESTARTING
        if self.place.opening:
            telemetry.CONSOLE_OPENS.labels(outcome=reason.name.lower()).inc()  # it never reached its first frame
        telemetry.CONSOLE_CLOSES.labels(reason=reason.name.lower()).inc()
        self._leave()
        deadline = time.monotonic() + RECORD_PATIENCE
        for delay in _backoff():
            try:
                await websocket_database(services.console_session_release)(
                    session=self.session, reason=reason, **counts
                )
                return
            except DatabaseError as error:
                if time.monotonic() + delay > deadline:
                    logger.error("console session %s: its close could not be recorded: %s", self.session.pk, error)
                    return  # its heartbeat stopped: the stale-session task closes the record
                logger.warning("console session %s: recording its close failed (%s); retrying", self.session.pk, error)
                await asyncio.sleep(delay)
