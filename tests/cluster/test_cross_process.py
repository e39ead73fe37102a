"""What one web process does reaches consoles relayed by another: through Redis' channel layer, never in memory."""

import asyncio
import urllib.request

import pytest
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accounts.services import api_token_create
from audit.models import AuditEvent
from console.models import ConsoleSession
from console.relay import CloseReason
from console.services import WEBSOCKET_PATH, console_session_request
from servers.proxmox.rfb import PROTOCOL_VERSION_3_8

pytestmark = pytest.mark.cluster

RUNNING_VM = 100
# The relay learns of the end through Redis and closes both sides; well within this on any machine.
CLOSE_WITHIN = 15.0


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def open_console(base_url: str, ticket, cookie: str, **headers):
    """A browser's console WebSocket to one web process, through the relay's RFB handshake (security None)."""
    websocket = await connect(
        base_url.replace("http", "ws") + WEBSOCKET_PATH,
        subprotocols=ticket.websocket_protocols,
        origin=base_url,
        additional_headers={"Cookie": cookie, **headers},
    )
    received = b""

    async def read(count):
        nonlocal received
        while len(received) < count:
            received += await websocket.recv()
        data, received = received[:count], received[count:]
        return data

    assert await read(12) == PROTOCOL_VERSION_3_8
    await websocket.send(PROTOCOL_VERSION_3_8)
    assert await read(2) == bytes([1, 1])
    await websocket.send(bytes([1]))
    assert await read(4) == bytes(4)
    return websocket


async def closed_code(websocket) -> int:
    try:
        async with asyncio.timeout(CLOSE_WITHIN):
            while True:
                await websocket.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code


def terminate(base_url: str, session_id: int, api_key: str) -> int:
    request = urllib.request.Request(
        f"{base_url}/api/v1/console-sessions/{session_id}/terminate/",
        method="POST",
        headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_console_on_one_process_is_ended_by_an_administrator_served_by_the_other(
    local_cluster, manager_a, admin_a, sim_server
):
    ticket = console_session_request(user=manager_a, server=sim_server, vmid=RUNNING_VM, client_ip=None)
    cookie = session_cookie(manager_a)
    _, api_key = api_token_create(user=admin_a, name="ops", expires_at=None, client_ip=None)
    process_a, process_b = local_cluster.web_urls

    async def scenario():
        websocket = await open_console(process_a, ticket, cookie)
        status = await asyncio.to_thread(terminate, process_b, ticket.session.pk, api_key)
        return status, await closed_code(websocket)

    status, code = asyncio.run(scenario())
    assert status == 202
    assert code == CloseReason.TERMINATED.code
    session = ConsoleSession.objects.get(pk=ticket.session.pk)
    assert session.close_reason == "terminated"


def test_the_balancer_spreads_consoles_over_both_processes_and_passes_the_client_address(
    local_cluster, manager_a, sim_server
):
    tickets = [
        console_session_request(user=manager_a, server=sim_server, vmid=RUNNING_VM, client_ip=None) for _ in range(4)
    ]
    cookie = session_cookie(manager_a)

    async def scenario():
        # What a client writes into X-Forwarded-For itself is ignored: HAProxy appends the address it saw.
        websockets = [
            await open_console(local_cluster.url, ticket, cookie, **{"X-Forwarded-For": "203.0.113.9"})
            for ticket in tickets
        ]
        held = await asyncio.to_thread(lambda: [consoles_open(url) for url in local_cluster.web_urls])
        for websocket in websockets:
            await websocket.close()
        return held

    assert asyncio.run(scenario()) == [2, 2], "least connections first: two consoles each"
    opened = AuditEvent.objects.filter(action="console opened")
    assert opened.count() == 4 and {event.ip_address for event in opened} == {"127.0.0.1"}


def consoles_open(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith("nexus_consoles_open")
    )
