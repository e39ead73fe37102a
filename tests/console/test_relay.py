import asyncio
import struct

import pytest
import websockets

from console.endpoints import EndpointClosed, QueueEndpoint, UpstreamEndpoint
from console.limits import MESSAGE_COST
from console.relay import CloseReason, Relay, RelayLimits
from servers.proxmox import ConsoleStream
from servers.proxmox.rfb import vnc_auth_response

from .fakes import PASSWORD, SERVER_INIT, novnc, pipe, proxmox

KEY_EVENT = struct.pack(">BBxxI", 4, 1, 0x61)
POINTER_EVENT = struct.pack(">BBHH", 5, 0, 10, 20)
UPDATE_REQUEST = struct.pack(">BBHHHH", 3, 1, 0, 0, 640, 480)
NO_LIMITS = RelayLimits(ping_interval=None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def eventually(predicate, timeout=2.0):
    """Wait until `predicate()` holds; the timeout only guards against a hung test."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


async def spin(rounds=50):
    """Let every runnable task run as far as it can."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def relay_tasks():
    return [task for task in asyncio.all_tasks() if task.get_coro().__qualname__.startswith("Relay.")]


class Console:
    """A relay between a fake noVNC and a fake Proxmox, both past the handshake."""

    def __init__(self, limits=NO_LIMITS, clock=None, password=PASSWORD, browser=None) -> None:
        self.upstream, self.proxmox_end = pipe()
        self.browser, self.novnc_end = browser or pipe()
        kwargs = {"clock": clock} if clock else {}
        self.relay = Relay(self.browser, self.upstream, password=password, limits=limits, **kwargs)
        self.run = asyncio.create_task(self.relay.run())

    async def start(self, *, after_result=b"", after_init=b""):
        self.proxmox, self.novnc = await asyncio.gather(
            proxmox(self.proxmox_end, after_result=after_result),
            novnc(self.novnc_end, after_init=after_init, early=after_result),
        )

    async def finish(self) -> CloseReason:
        reason = await asyncio.wait_for(self.run, 2)
        assert relay_tasks() == []
        return reason


async def test_the_browser_never_sees_the_password_or_the_auth_response():
    console = Console()
    await console.start()
    await console.proxmox_end.send(b"pixels")
    assert await console.novnc.read(6) == b"pixels"
    console.relay.terminate()
    await console.finish()
    seen_by_browser = bytes(console.browser.sent)
    assert seen_by_browser.startswith(b"RFB 003.008\n\x01\x01\x00\x00\x00\x00" + SERVER_INIT)
    assert PASSWORD[:8].encode() not in seen_by_browser
    assert b"\x02" not in seen_by_browser[12:14]  # type 2 is never offered


async def test_bytes_after_either_handshake_are_forwarded_in_order():
    console = Console()
    await console.start(after_result=b"early", after_init=UPDATE_REQUEST)
    assert await console.proxmox.read(len(UPDATE_REQUEST)) == UPDATE_REQUEST
    await console.novnc_end.send(KEY_EVENT)
    assert await console.proxmox.read(len(KEY_EVENT)) == KEY_EVENT
    console.relay.terminate()
    await console.finish()
    assert console.relay.bytes_to_upstream == 1 + len(UPDATE_REQUEST) + len(KEY_EVENT)
    assert console.relay.bytes_to_browser == len(SERVER_INIT) + 5


async def test_a_wrong_password_ends_as_unauthorized_and_closes_both_sides():
    console = Console(password="wrong")
    await proxmox(console.proxmox_end)
    assert await console.finish() is CloseReason.UNAUTHORIZED
    assert console.browser.closed_with == (4001, CloseReason.UNAUTHORIZED.text)
    assert console.upstream.closed_with is not None
    assert console.browser.sent == b""  # the browser was never greeted


async def test_the_browser_leaving_ends_as_client_closed():
    console = Console()
    await console.start()
    await console.novnc_end.close(1000, "bye")
    assert await console.finish() is CloseReason.CLIENT_CLOSED
    assert console.upstream.closed_with is not None


async def test_proxmox_leaving_ends_as_upstream_closed_with_a_code_for_the_page():
    console = Console()
    await console.start()
    await console.proxmox_end.close(1000, "guest stopped")
    assert await console.finish() is CloseReason.UPSTREAM_CLOSED
    assert console.browser.closed_with == (4501, CloseReason.UPSTREAM_CLOSED.text)


async def test_proxmox_leaving_during_the_handshake_ends_as_upstream_closed():
    console = Console()
    await console.proxmox_end.close(1000, "no")
    assert await console.finish() is CloseReason.UPSTREAM_CLOSED


async def test_a_silent_proxmox_ends_the_handshake_as_unreachable():
    console = Console(limits=RelayLimits(ping_interval=None, handshake_timeout=0.01))
    assert await console.finish() is CloseReason.UPSTREAM_UNREACHABLE
    assert console.browser.closed_with[0] == 4502


async def test_an_unexpected_error_ends_as_error_and_closes_both_sides():
    console = Console()
    await console.start()

    async def broken_recv():
        raise RuntimeError("boom")

    console.upstream.recv = broken_recv
    await console.proxmox_end.send(b"one more frame")  # the pump's next recv raises
    assert await console.finish() is CloseReason.ERROR
    assert console.browser.closed_with[0] == 4500
    assert console.upstream.closed_with is not None


async def test_cancelling_run_closes_both_sides_and_leaves_no_tasks():
    console = Console()
    await console.start()
    console.run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await console.run
    assert relay_tasks() == []
    assert console.browser.closed_with[0] == 1001
    assert console.upstream.closed_with is not None


async def test_terminate_ends_as_terminated():
    console = Console()
    await console.start()
    console.relay.terminate()
    assert await console.finish() is CloseReason.TERMINATED
    assert console.browser.closed_with == (4410, "The console was ended by an administrator.")


async def test_terminate_during_the_handshake_ends_it_too():
    console = Console()
    await spin()
    console.relay.terminate()
    assert await console.finish() is CloseReason.TERMINATED


async def test_only_user_input_counts_as_activity():
    clock = FakeClock()
    console = Console(limits=RelayLimits(idle_timeout=0.005, ping_interval=None), clock=clock)
    started = clock.now
    await console.start()
    for _ in range(3):
        clock.now += 0.001
        await console.novnc_end.send(UPDATE_REQUEST)
        await console.proxmox.read(len(UPDATE_REQUEST))
    assert console.relay.last_activity == started
    for event in (KEY_EVENT, POINTER_EVENT):
        clock.now += 0.001
        await console.novnc_end.send(event)
        await console.proxmox.read(len(event))
        assert console.relay.last_activity == clock.now
    assert not console.run.done()
    clock.now += 1
    assert await console.finish() is CloseReason.IDLE_TIMEOUT
    assert console.browser.closed_with[0] == 4408


async def test_traffic_that_cannot_be_parsed_counts_as_activity():
    clock = FakeClock()
    console = Console(limits=RelayLimits(idle_timeout=60, ping_interval=None), clock=clock)
    await console.start()
    clock.now += 10
    await console.novnc_end.send(b"\x99unknown")
    await console.proxmox.read(8)
    assert console.relay.last_activity == clock.now
    clock.now += 10
    await console.novnc_end.send(UPDATE_REQUEST)
    await console.proxmox.read(len(UPDATE_REQUEST))
    assert console.relay.last_activity == clock.now
    console.relay.terminate()
    await console.finish()


async def test_a_console_ends_at_its_maximum_duration_even_with_input():
    clock = FakeClock()
    console = Console(limits=RelayLimits(idle_timeout=60, max_duration=0.005, ping_interval=None), clock=clock)
    await console.start()
    await console.novnc_end.send(KEY_EVENT)
    await console.proxmox.read(len(KEY_EVENT))
    clock.now += 0.01
    assert await console.finish() is CloseReason.MAX_DURATION
    assert console.browser.closed_with[0] == 4409


async def test_pings_keep_the_proxmox_side_alive():
    console = Console(limits=RelayLimits(ping_interval=0.001))
    await console.start()
    await eventually(lambda: console.upstream.pings >= 3)
    console.relay.terminate()
    await console.finish()


class StallingBrowser:
    """A consumer `send` that stops returning after `accept` messages, like a browser that stops reading."""

    def __init__(self, accept: int) -> None:
        self.accept = accept
        self.received: list[bytes] = []
        self.stalled = asyncio.Event()
        self.closed_with = None

    async def send(self, data: bytes) -> None:
        if len(self.received) == self.accept:
            self.stalled.set()
            await asyncio.Event().wait()
        self.received.append(data)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


class FloodingProxmox:
    """An upstream that always has another 64 KiB ready, and counts how often it was read."""

    def __init__(self, before: list[bytes]) -> None:
        self.before = before
        self.reads = 0
        self.closed_with = None

    async def recv(self) -> bytes:
        if self.before:
            return self.before.pop(0)
        self.reads += 1
        return bytes(65536)

    async def send(self, data: bytes) -> None:
        pass

    async def ping(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


async def test_a_stalled_browser_stops_reads_from_proxmox():
    consumer = StallingBrowser(accept=10)
    browser = QueueEndpoint(consumer.send, consumer.close)
    # The browser's handshake, all at once: version, choice None, ClientInit.
    browser.feed(b"RFB 003.008\n" + b"\x01" + b"\x01")
    challenge = bytes(16)
    upstream = FloodingProxmox([b"RFB 003.008\n", b"\x01\x02", challenge, struct.pack(">I", 0)])
    relay = Relay(browser, upstream, password=PASSWORD, limits=NO_LIMITS)
    run = asyncio.create_task(relay.run())
    await asyncio.wait_for(consumer.stalled.wait(), 2)
    await spin()
    reads_when_stalled = upstream.reads
    await spin(500)
    # Nothing more is read from Proxmox however long the browser stalls ...
    assert upstream.reads == reads_when_stalled
    # ... and what was read but not delivered is bounded: the message stuck in the browser's send and the
    # refilled buffer (each at most the buffer plus one frame), and the frame waiting for room.
    handshake = len(b"RFB 003.008\n") + 2 + 4  # version, security types [None], SecurityResult
    held = upstream.reads * 65536 - (sum(len(message) for message in consumer.received) - handshake)
    assert held <= 2 * NO_LIMITS.browser_buffer + 3 * 65536
    relay.terminate()
    assert await asyncio.wait_for(run, 2) is CloseReason.TERMINATED
    assert consumer.closed_with[0] == 4410 and upstream.closed_with is not None
    assert relay_tasks() == []
    assert vnc_auth_response(PASSWORD, challenge) not in b"".join(consumer.received)


async def test_a_busy_browser_gets_what_piled_up_as_one_message():
    consumer = StallingBrowser(accept=10**6)
    browser = QueueEndpoint(consumer.send, consumer.close)
    browser.feed(b"RFB 003.008\n" + b"\x01" + b"\x01")
    upstream = FloodingProxmox([b"RFB 003.008\n", b"\x01\x02", bytes(16), struct.pack(">I", 0)])
    relay = Relay(browser, upstream, password=PASSWORD, limits=NO_LIMITS)
    run = asyncio.create_task(relay.run())
    await spin()
    relay.terminate()
    await asyncio.wait_for(run, 2)
    frames = [message for message in consumer.received if len(message) >= 65536]
    assert any(len(message) > 65536 for message in frames), "frames that piled up were not sent together"
    assert all(len(message) <= NO_LIMITS.browser_buffer + 65536 for message in frames)


async def test_the_browser_queue_holds_back_the_consumer_when_full():
    browser = QueueEndpoint(None, None, max_queued_bytes=2 * MESSAGE_COST + 10)
    browser.feed(b"12345")
    await asyncio.wait_for(browser.room(), 1)
    browser.feed(b"678901")
    waiting = asyncio.create_task(browser.room())
    await spin()
    assert not waiting.done()
    assert await browser.recv() == b"12345"
    await asyncio.wait_for(waiting, 1)
    browser.feed(b"x")
    browser.feed_closed()
    assert await browser.recv() == b"678901"
    assert await browser.recv() == b"x"
    with pytest.raises(EndpointClosed):
        await browser.recv()


async def has_room(browser: QueueEndpoint) -> bool:
    waiting = asyncio.create_task(browser.room())
    await spin()
    done = waiting.done()
    waiting.cancel()
    return done


async def test_a_flood_of_tiny_browser_messages_fills_the_queue_too():
    browser = QueueEndpoint(None, None, max_queued_bytes=64 * 1024)
    fed = 0
    while fed < 10_000 and await has_room(browser):
        browser.feed(b"x")
        fed += 1
    assert fed == -(-64 * 1024 // (1 + MESSAGE_COST))  # not 64 Ki messages


async def test_a_closed_browser_queue_never_holds_back_the_consumer():
    browser = QueueEndpoint(None, None, max_queued_bytes=1)
    browser.feed(b"unread")
    waiting = asyncio.create_task(browser.room())
    await spin()
    assert not waiting.done()
    browser.feed_closed()  # the relay ended without reading it
    await asyncio.wait_for(waiting, 1)
    browser.feed(b"dropped")
    assert await browser.recv() == b"unread"
    with pytest.raises(EndpointClosed):
        await browser.recv()


async def test_a_relay_to_a_real_websocket_server_playing_proxmox():
    async def handler(connection):
        endpoint = UpstreamEndpoint(ConsoleStream(connection))
        reader = await proxmox(endpoint)
        assert await reader.read(len(KEY_EVENT)) == KEY_EVENT
        await endpoint.send(b"frame")
        await connection.wait_closed()

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        connection = await websockets.connect(f"ws://127.0.0.1:{port}", subprotocols=["binary"])
        browser, novnc_end = pipe()
        relay = Relay(browser, UpstreamEndpoint(ConsoleStream(connection)), password=PASSWORD, limits=NO_LIMITS)
        run = asyncio.create_task(relay.run())
        reader = await novnc(novnc_end)
        await novnc_end.send(KEY_EVENT)
        assert await reader.read(5) == b"frame"
        await novnc_end.close(1000, "tab closed")
        assert await asyncio.wait_for(run, 5) is CloseReason.CLIENT_CLOSED
        assert connection.close_code == 1000
    assert relay_tasks() == []
