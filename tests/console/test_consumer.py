"""The console WebSocket through the whole ASGI stack (origin check, session auth, consumer, relay) to the simulator."""

import asyncio
import struct
import time
from datetime import timedelta

import asgiref.sync
import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.db import connections
from django.utils import timezone

from console import consumers, services
from console.endpoints import UpstreamEndpoint
from console.models import ConsoleSession
from console.services import console_session_terminate
from servers.proxmox.rfb import KEY_EVENT
from tenants.models import Membership
from tests.console.sockets import (
    RUNNING_VM,
    Browser,
    closed_session,
    closed_with,
    open_console_socket,
    session_of,
    session_once,
    ticket_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def close_connections_of_the_sync_thread():
    """Async ORM calls run in asgiref's sync thread; its connection must not outlive the test database."""
    yield
    await asgiref.sync.sync_to_async(connections.close_all)()


async def test_a_member_reaches_the_guest_console_without_seeing_the_password(manager_a, sim_server, pve):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    communicator, connected, subprotocol = await open_console_socket(manager_a, ticket.token)
    assert connected and subprotocol == "binary"
    browser = Browser(communicator)
    assert await browser.handshake() == b"web-01"

    await browser.send(struct.pack(">BBxxI", KEY_EVENT, 1, ord("x")) + struct.pack(">BBxxI", KEY_EVENT, 0, ord("x")))
    for _ in range(50):
        if pve.guest(RUNNING_VM).typed_text() == "x":
            break
        await asyncio.sleep(0.05)
    assert pve.guest(RUNNING_VM).typed_text() == "x"

    await communicator.disconnect()
    session = await closed_session(ticket)
    assert session.opened_at and session.closed_at
    assert session.close_reason == "client_closed"
    assert session.bytes_to_client > 0 and session.bytes_to_server > 0


async def test_an_administrator_ends_a_session_and_the_page_is_told_why(manager_a, admin_a, sim_server):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    await Browser(communicator).handshake()
    session = await session_of(ticket)
    await sync_to_async(console_session_terminate)(session=session, actor=admin_a)
    # Recorded as ended at once (the admin's page shows it so), with the relay's byte counts soon after.
    ended = await session_of(ticket)
    assert ended.closed_at and ended.close_reason == "terminated"
    assert await closed_with(communicator) == 4410
    session = await session_once(ticket, lambda session: session.bytes_to_client, "with its byte counts")
    assert session.bytes_to_client > 0 and session.bytes_to_server > 0
    assert (session.closed_at, session.close_reason) == (ended.closed_at, "terminated")


async def test_a_token_ended_before_it_was_used_is_refused(manager_a, admin_a, sim_server):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    await sync_to_async(console_session_terminate)(session=ticket.session, actor=admin_a)
    _, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert not connected


class ProxmoxThatStopsReading(UpstreamEndpoint):
    """Takes the handshake, then never finishes sending anything bigger (a guest that stopped reading)."""

    async def send(self, data: bytes) -> None:
        if len(data) > 100:
            await asyncio.Event().wait()
        await super().send(data)


async def test_an_administrator_ends_a_session_whose_browser_floods_a_stuck_proxmox(
    monkeypatch, manager_a, admin_a, sim_server
):
    monkeypatch.setattr(consumers, "UpstreamEndpoint", ProxmoxThatStopsReading)
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    browser = Browser(communicator)
    await browser.handshake()
    for _ in range(40):  # 2.5 MiB of input: more than the relay queues for a Proxmox that does not read
        await browser.send(bytes(65536))
    await asyncio.sleep(0.2)

    await sync_to_async(console_session_terminate)(session=await session_of(ticket), actor=admin_a)
    assert await closed_with(communicator) == 4410
    assert (await closed_session(ticket)).close_reason == "terminated"


async def test_browser_input_skips_the_per_message_database_cleanup(monkeypatch, manager_a, sim_server, pve):
    cleanups = []

    async def count_cleanup():
        cleanups.append(1)

    monkeypatch.setattr("channels.consumer.aclose_old_connections", count_cleanup)
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    await Browser(communicator).handshake()
    after_connect = len(cleanups)
    for _ in range(10):
        await communicator.send_to(bytes_data=struct.pack(">BBxxI", KEY_EVENT, 1, ord("y")))
    await communicator.disconnect()
    await closed_session(ticket)
    assert len(cleanups) == after_connect + 1  # the disconnect only


async def test_an_idle_console_closes_after_the_tenant_timeout(manager_a, sim_server, tenant_a):
    tenant_a.console_idle_timeout = 1
    await tenant_a.asave()
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    assert await closed_with(communicator) == 4408
    assert (await closed_session(ticket)).close_reason == "idle_timeout"


async def test_a_token_works_only_once(manager_a, sim_server):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    first, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    _, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert not connected
    await first.disconnect()


async def test_an_unknown_token_is_refused(manager_a):
    _, connected, _ = await open_console_socket(manager_a, "A" * 43)
    assert not connected


async def test_an_expired_token_is_refused(manager_a, sim_server):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    await ConsoleSession.objects.filter(pk=ticket.session.pk).aupdate(
        token_expires_at=timezone.now() - timedelta(seconds=1)
    )
    _, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert not connected


@pytest.mark.parametrize("thief", ["admin_b", "outsider", "viewer_a", "platform_admin"])
async def test_someone_elses_token_is_refused(request, manager_a, sim_server, thief):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    thief_user = await sync_to_async(request.getfixturevalue)(thief)
    _, connected, _ = await open_console_socket(thief_user, ticket.token)
    assert not connected
    # The owner's token was not spent by the refused attempt.
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    await communicator.disconnect()


async def test_an_anonymous_socket_is_refused(manager_a, sim_server):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    _, connected, _ = await open_console_socket(None, ticket.token)
    assert not connected


async def test_a_foreign_origin_is_refused(manager_a, sim_server):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    _, connected, _ = await open_console_socket(manager_a, ticket.token, origin=b"https://evil.example")
    assert not connected
    assert (await session_of(ticket)).opened_at is None


async def test_losing_the_permission_before_connecting_is_refused(manager_a, sim_server):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    await Membership.objects.filter(user=manager_a).aupdate(role="viewer")
    _, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert not connected
    session = await session_of(ticket)
    assert (session.close_reason, session.channel_name) == ("forbidden", ""), "ended, with no relay to tell"


async def test_a_guest_stopped_after_the_request_closes_with_its_reason(manager_a, sim_server, pve):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    pve.set_guest_status(RUNNING_VM, "stopped")
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    assert await closed_with(communicator) == 4004
    assert (await closed_session(ticket)).close_reason == "guest_not_running"


async def test_an_unreachable_proxmox_closes_with_its_reason(manager_a, sim_server):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    sim_server.port = 1  # nothing listens there
    await sim_server.asave()
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    assert await closed_with(communicator) == 4502
    assert (await closed_session(ticket)).close_reason == "upstream_unreachable"


async def test_a_proxmox_that_trickles_closes_as_unreachable_within_the_server_timeout(manager_a, sim_server, pve):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    sim_server.connection_timeout = 1
    await sim_server.asave()
    pve.faults.trickle = 0.2  # vncproxy's answer, a byte every 0.2 s
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    started = time.monotonic()
    assert await closed_with(communicator) == 4502
    assert time.monotonic() - started < 3
    assert (await closed_session(ticket)).close_reason == "upstream_unreachable"


@pytest.fixture
def fast_heartbeat(monkeypatch):
    monkeypatch.setattr(services, "HEARTBEAT_INTERVAL", timedelta(seconds=0.2))


async def test_a_relay_beats_and_ends_when_its_record_is_closed_without_a_message(
    fast_heartbeat, manager_a, sim_server
):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    await Browser(communicator).handshake()
    opened = await session_of(ticket)
    await session_once(ticket, lambda session: session.last_seen_at > opened.last_seen_at, "with a later heartbeat")
    # Closed behind its back (an End the channel layer could not carry, the stale-session task).
    await ConsoleSession.objects.filter(pk=ticket.session.pk).aupdate(
        closed_at=timezone.now(), close_reason="withdrawn"
    )
    assert await closed_with(communicator) == 4411
    assert (await session_once(ticket, lambda session: not session.channel_name, "released")).bytes_to_client > 0


async def test_a_relay_ends_when_its_record_is_deleted(fast_heartbeat, manager_a, sim_server):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected
    await ConsoleSession.objects.filter(pk=ticket.session.pk).adelete()
    assert await closed_with(communicator) == 4411
