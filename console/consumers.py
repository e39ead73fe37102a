"""The browser's console WebSocket: checks the one-time token, then hands both sides to the relay."""

import asyncio
import logging
import time
from functools import cache

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from metrics.models import ConnectionMetric
from metrics.recorder import metric_record
from nexus import telemetry
from nexus.http import scope_client_ip
from nexus.ws_auth import websocket_database
from servers import proxmox

from .admission import Admission
from .endpoints import QueueEndpoint, UpstreamEndpoint
from .relay import CloseReason, Relay, RelayLimits
from .services import console_session_claim, console_session_close

logger = logging.getLogger(__name__)

# How long disconnect() waits for the relay to tear down and record the session.
TEARDOWN_TIMEOUT = 10.0


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
    browser = None
    place = None  # this console's place in the process (console.admission)
    end_reason = CloseReason.TERMINATED  # what a control message ended the session for
    restarting = False  # console.flow closed the WebSocket because the process is stopping

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
                self.session = await websocket_database(console_session_claim)(
                    token=self.scope["url_route"]["kwargs"]["token"],
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
        return "binary" if "binary" in self.scope.get("subprotocols", []) else None

    async def __call__(self, scope, receive, send):
        # Browser input waits for the relay here, in the receive callable, rather than in its
        # handler: Channels dispatches one message at a time, so a handler that waits would hold
        # up channel-layer messages too, such as an administrator ending this session.
        async def receive_when_relay_has_room():
            if self.browser is not None:
                await self.browser.room()
            return await receive()

        await super().__call__(scope, receive_when_relay_has_room, send)

    async def dispatch(self, message):
        # Browser input touches no database: skip Channels' close_old_connections per message
        # (a hop to the sync thread), which added to every keystroke's round trip.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None and self.browser is not None:
            telemetry.CONSOLE_BYTES.labels(direction="to_server").inc(len(bytes_data))
            self.browser.feed(bytes_data)

    async def disconnect(self, code):
        self.restarting = code == CloseReason.SERVICE_RESTARTING.code
        if self.browser is not None:
            self.browser.feed_closed()
        if self.relay_task is not None:
            try:
                await asyncio.wait_for(self.relay_task, TEARDOWN_TIMEOUT)
            except TimeoutError:
                logger.warning("console session %s did not tear down in time; cancelling it", self.session.pk)
                self.relay_task.cancel()

    async def console_terminate(self, event):
        self.end_reason = CloseReason[event.get("reason", CloseReason.TERMINATED.name)]
        if self.relay is not None:
            self.relay.terminate(self.end_reason)
        elif self.relay_task is not None:
            self.relay_task.cancel()

    def _relay_ready(self) -> None:
        self.place.opened()
        telemetry.CONSOLE_FIRST_FRAME.observe(time.monotonic() - self.connected_at)
        telemetry.CONSOLE_OPENS.labels(outcome="opened").inc()

    async def _send_bytes(self, data: bytes) -> None:
        await self.send(bytes_data=data)
        telemetry.CONSOLE_BYTES.labels(direction="to_browser").inc(len(data))

    async def _close_browser(self, code: int, reason: str) -> None:
        await self.close(code=code, reason=reason)

    async def _run(self) -> None:
        try:
            await self._relay_session()
        finally:
            # Nobody reads the browser's input any more: the receive callable must not wait for room.
            self.browser.feed_closed()
            self._leave()

    def _leave(self) -> None:
        """Give this console's place in the process back (once, whichever way it ended)."""
        if self.place.release():
            telemetry.CONSOLES_OPEN.dec()

    async def _record_close(self, reason: CloseReason, **byte_counts) -> None:
        if self.restarting:
            reason = CloseReason.SERVICE_RESTARTING
        if self.place.opening:
            telemetry.CONSOLE_OPENS.labels(outcome=reason.name.lower()).inc()  # it never reached its first frame
        telemetry.CONSOLE_CLOSES.labels(reason=reason.name.lower()).inc()
        self._leave()
        await websocket_database(console_session_close)(session=self.session, reason=reason, **byte_counts)

    async def _relay_session(self) -> None:
        session = self.session
        started = time.monotonic()
        try:
            with telemetry.CONSOLE_UPSTREAM_OPEN.time():
                upstream = await proxmox.open_console(
                    session.server.connection(), session.node, session.guest_type, session.vmid
                )
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
            await self._record_close(reason)
            return
        except asyncio.CancelledError:
            reason = self.end_reason
            await self._close_browser(reason.code, reason.text)
            await self._record_close(reason)
            return
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
        reason = CloseReason.ERROR
        try:
            reason = await self.relay.run()
        finally:
            await self._record_close(
                reason, bytes_to_client=self.relay.bytes_to_browser, bytes_to_server=self.relay.bytes_to_upstream
            )
