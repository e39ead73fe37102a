"""Daphne with backpressure for WebSockets, both ways: bounded buffers for consoles.

Towards the browser, `websocket.send` waits for a slow browser.

Stock daphne hands each `websocket.send` to autobahn, which writes it into the Twisted
transport's buffer and returns at once; that buffer has no limit, so a browser that
reads slowly makes the server hold everything the console relay reads from Proxmox.
Twisted already tells a registered streaming producer when that buffer passes its
`bufferSize` (64 KiB) and when it has drained: we register a small gate as the
producer of each WebSocket's transport and make `send` wait while the gate is shut.

Before the upgrade, twisted.web's HTTPChannel registered itself as that transport's
producer; after the upgrade daphne gives the transport to the WebSocket protocol and
the channel has nothing left to pause, so the gate takes its place.

From the browser, stock daphne puts every message into the application's input queue,
which has no limit either: a browser that sends faster than the console relay passes
input on (Proxmox reading slowly) would grow it without end. Our queue stops reading
the browser's socket while `BROWSER_INPUT_QUEUE` bytes wait in it, and reads on once the
application has taken half of them; TCP then holds the browser back (console.limits
explains the bounds of every layer).

A burst of consoles waits for its turn rather than being dropped: daphne's command gives a WebSocket 5 seconds from
its request to its acceptance, which a console spends partly waiting for its token's claim (console.admission refuses
with a reason beyond what one process takes on); here it is `CONNECT_TIMEOUT`.

Rolling restarts: on SIGTERM the process stops listening (the balancer sends new connections to the others), closes
every open WebSocket with 1012 "service restarting" (the console page reconnects at once, through the balancer), and
stops once they have ended or after `DRAIN_TIMEOUT`. The application is told by the code of its `websocket.disconnect`:
1012, whatever the browser answered.

Use it instead of the `daphne` command, with the same arguments:

    python -m console.flow -b 0.0.0.0 -p 8000 nexus.asgi:application

or pass `FlowControlServer` wherever a daphne `Server` class is chosen (for example
`server_cls` of daphne's runserver command).
"""

import asyncio
import logging
import os
import signal
import time
from functools import partial

from daphne.cli import CommandLineInterface
from daphne.server import Server
from twisted.internet import defer, reactor

from nexus.http import scope_client_ip

from .limits import BROWSER_INPUT_QUEUE, MESSAGE_COST
from .relay import CloseReason

logger = logging.getLogger(__name__)

# Seconds a WebSocket may take from its request to its acceptance (daphne's command: 5).
CONNECT_TIMEOUT = 30
# Seconds a stopping process waits for its WebSockets to end after telling them it restarts.
DRAIN_TIMEOUT = 10.0
DRAIN_POLL = 0.1
RESTARTING = CloseReason.SERVICE_RESTARTING


class WriteGate:
    """A Twisted streaming producer whose only job is to tell asyncio when writing may go on."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()

    async def wait(self) -> None:
        await self._open.wait()

    def pauseProducing(self) -> None:
        self._open.clear()

    def resumeProducing(self) -> None:
        self._open.set()

    def stopProducing(self) -> None:
        # The connection is gone: never keep a sender waiting for it.
        self._open.set()


class InputQueue(asyncio.Queue):
    """A WebSocket application's input queue that pauses reading its socket while `limit` bytes wait in it.

    Each message counts with `MESSAGE_COST`, so many tiny messages pause it too.

    Daphne calls `put_nowait`; the application's `receive` is `get`, which ends in `get_nowait`.
    """

    def __init__(self, transport, limit: int) -> None:
        super().__init__()
        self._transport = transport
        self._limit = limit
        self._size = 0
        self._paused = False
        self.restarting = False  # closed by the server because it stops: the disconnect says 1012

    def put_nowait(self, message) -> None:
        if self.restarting and message["type"] == "websocket.disconnect":
            message = {**message, "code": RESTARTING.code}
        super().put_nowait(message)
        self._size += _cost(message)
        if self._size >= self._limit and not self._paused:
            self._paused = True
            self._transport.pauseProducing()

    def get_nowait(self):
        message = super().get_nowait()
        self._size -= _cost(message)
        if self._paused and self._size <= self._limit // 2:
            self._paused = False
            self._transport.resumeProducing()
        return message


def _cost(message) -> int:
    return len(message.get("bytes") or message.get("text") or "") + MESSAGE_COST


def _log_as_forwarded_client(protocol, scope) -> None:
    """Behind a proxy, the access log names the client as the portal does (nexus.http, TRUSTED_PROXY_COUNT), not the
    proxy's own address (its port is unknown there: 0)."""
    client = scope_client_ip(scope)
    if client and protocol.client_addr and client != protocol.client_addr[0]:
        protocol.client_addr = [client, 0]


def _is_close_with_reason(message) -> bool:
    return message["type"] == "websocket.close" and bool(message.get("reason"))


class FlowControlServer(Server):
    draining = False

    def run(self):
        self._ports = []
        if self.signal_handlers:
            # After Twisted's own handlers, which would stop at once.
            reactor.callWhenRunning(signal.signal, signal.SIGTERM, self._on_sigterm)
        super().run()

    def listen_success(self, port):
        super().listen_success(port)
        self._ports.append(port)

    def _on_sigterm(self, signum, frame) -> None:
        reactor.callFromThread(self.drain)

    def drain(self) -> None:
        """Stop taking connections, tell every WebSocket the service restarts, stop once they have gone."""
        if self.draining:
            return
        self.draining = True
        logger.info("stopping: no new connections; closing WebSockets with %s", RESTARTING.code)
        for port in self._ports:
            port.stopListening()
        self._close_websockets(time.monotonic() + DRAIN_TIMEOUT)

    def _close_websockets(self, deadline: float) -> None:
        waiting = 0
        for protocol, connection in list(self.connections.items()):
            queue = getattr(protocol, "application_queue", None)
            instance = connection.get("application_instance")
            if not isinstance(queue, InputQueue) or instance is None or instance.done():
                continue
            waiting += 1  # until its application has finished (a console records how it ended)
            # Those still in their handshake are closed as soon as their application accepts them.
            if not queue.restarting and getattr(protocol, "state", None) == protocol.STATE_OPEN:
                queue.restarting = True
                # sendClose takes only an application's codes; 1012 (Service Restart) is the server's own.
                protocol.sendCloseFrame(code=RESTARTING.code, reasonUtf8=RESTARTING.text.encode(), isReply=False)
        if waiting and time.monotonic() < deadline:
            reactor.callLater(DRAIN_POLL, self._close_websockets, deadline)
            return
        _forget_process_metrics()
        reactor.stop()

    def create_application(self, protocol, scope):
        _log_as_forwarded_client(protocol, scope)
        if scope["type"] != "websocket":
            return super().create_application(protocol, scope)
        # Daphne's own steps, with our input queue instead of an unbounded one.
        assert "application_instance" not in self.connections[protocol]
        queue = InputQueue(protocol.transport, BROWSER_INPUT_QUEUE)
        scope.setdefault("asgi", {"version": "3.0"})
        instance = self.application(scope=scope, receive=queue.get, send=partial(self.handle_reply, protocol))
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
        gate = WriteGate()
        protocol.transport.unregisterProducer()
        protocol.transport.registerProducer(gate, True)
        self.connections[protocol]["write_gate"] = gate
        return queue

    async def handle_reply(self, protocol, message):
        if _is_close_with_reason(message) and self._is_open(protocol):
            # daphne 4.2 sends only the close code; the page shows the relay's reason text to the user.
            protocol.sendClose(code=message.get("code") or 1000, reason=message["reason"])
            return
        await super().handle_reply(protocol, message)
        if message["type"] == "websocket.send":
            gate = self.connections.get(protocol, {}).get("write_gate")
            if gate is not None:
                await gate.wait()

    def _is_open(self, protocol) -> bool:
        connection = self.connections.get(protocol)
        return (
            connection is not None
            and "disconnected" not in connection
            and getattr(protocol, "state", None) == getattr(protocol, "STATE_OPEN", object())
        )

    def kill_all_applications(self):
        # Daphne's own steps, for connections that still have an application: daphne 4.2 removes a finished one's
        # before the connection goes (an HTTP request answered a moment ago), then fails here with a KeyError and
        # cancels nothing, so on SIGTERM no console ended its relay or recorded its close.
        running = [details.get("application_instance") for details in self.connections.values()]
        running = [instance for instance in running if instance is not None and not instance.done()]
        for instance in running:
            instance.cancel()
        logger.info("Killed %i pending application instances", len(running))
        return defer.Deferred.fromFuture(asyncio.gather(*running)).addErrback(lambda failure: None)

    def protocol_disconnected(self, protocol):
        super().protocol_disconnected(protocol)
        gate = self.connections[protocol].get("write_gate")
        if gate is not None:
            gate.stopProducing()


def _forget_process_metrics() -> None:
    """Prometheus' multiprocess mode reports a process's live gauges until it is marked dead."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


class FlowControlCommandLine(CommandLineInterface):
    server_class = FlowControlServer

    def __init__(self):
        super().__init__()
        self.parser.set_defaults(websocket_connect_timeout=CONNECT_TIMEOUT)


if __name__ == "__main__":
    FlowControlCommandLine.entrypoint()
