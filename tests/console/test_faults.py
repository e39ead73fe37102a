"""Consoles ride through faults of the real services: a Redis of the test's own, stopped and restarted; PostgreSQL
connections killed (pg_terminate_backend) and the test database refusing connections.

The outage lasts OUTAGE seconds: the test first waits until the consumer has seen the channel layer fail, so what
is tested is the mechanism (retry with back-off, re-read once Redis returns), whose behaviour does not depend on how
long Redis stays away; 5 s keeps the suite fast where the issue's 30 s would not.
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

import asgiref.sync
import psycopg
import pytest
import redis
from channels.db import database_sync_to_async as sync_to_async
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from audit.models import AuditEvent
from console import consumers, services
from console.models import ConsoleSession
from console.services import WEBSOCKET_PATH, console_session_terminate
from console.tasks import close_stale_sessions
from servers.proxmox.rfb import KEY_EVENT
from tests.console.sockets import (
    RUNNING_VM,
    Browser,
    closed_session,
    closed_with,
    cookie_for,
    open_console_socket,
    session_once,
    ticket_for,
)

OUTAGE = 5.0
# The browser's address, as the proxy in front of the web process reports it.
CLIENT = "203.0.113.9"

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not shutil.which("redis-server"),
    reason="breaks a Redis of its own: runs where REDIS_URL is set (real services) and redis-server is installed",
)
needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="kills PostgreSQL connections: runs where DATABASE_URL names a PostgreSQL database",
)
shares_the_database = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="runs a web process on the test database: runs where DATABASE_URL names a PostgreSQL database",
)
pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
async def close_connections_of_the_sync_thread():
    yield
    await asgiref.sync.sync_to_async(connections.close_all)()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A redis-server on a free port, for this test only: stop() and start() are a real outage and recovery."""

    def __init__(self, directory) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir"]
        self.process = subprocess.Popen([*command, str(self.directory)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                self.process.poll()
                assert self.process.returncode is None, "redis-server did not start"
                subprocess.run(["sleep", "0.025"], check=True)
        raise AssertionError("redis-server never answered")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def own_redis(settings, tmp_path, monkeypatch):
    """The channel layer (and the console request's check) on a Redis of the test's own; retries capped at 1 s."""
    server = OwnRedis(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": server.url, "socket_connect_timeout": 2}]},
        }
    }
    monkeypatch.setattr(consumers, "RETRY_MOST", 1.0)
    yield server
    if server.process.poll() is None:
        server.stop()


def key(char: str) -> bytes:
    return b"".join(KEY_EVENT.to_bytes(1) + bytes([down, 0, 0]) + ord(char).to_bytes(4) for down in (1, 0))


async def typed(pve, text: str) -> str:
    for _ in range(100):
        if pve.guest(RUNNING_VM).typed_text() == text:
            break
        await asyncio.sleep(0.05)
    return pve.guest(RUNNING_VM).typed_text()


async def logged(caplog, text: str) -> None:
    """Once the consumer has logged `text` (it met the fault)."""
    for _ in range(200):
        if any(text in record.getMessage() for record in caplog.records):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never logged: {text}")


async def released(ticket) -> ConsoleSession:
    """The session once its relay recorded its own end (an End is recorded before)."""
    return await session_once(ticket, lambda session: session.closed_at and not session.channel_name, "released")


async def open_console(user, server):
    ticket = await sync_to_async(ticket_for)(user, server)
    communicator, connected, _ = await open_console_socket(user, ticket.token)
    assert connected
    browser = Browser(communicator)
    await browser.handshake()
    return ticket, communicator, browser


@needs_redis
async def test_a_console_keeps_relaying_through_a_redis_outage_and_hears_an_end_after_it(
    own_redis, monkeypatch, caplog, manager_a, admin_a, sim_server, pve
):
    monkeypatch.setattr(services, "HEARTBEAT_INTERVAL", timedelta(hours=1))  # only the channel layer can tell it
    ticket, communicator, browser = await open_console(manager_a, sim_server)

    own_redis.stop()
    await logged(caplog, "the channel layer failed")
    await browser.send(key("a"))
    assert await typed(pve, "a") == "a", "the console relays while Redis is down"
    await asyncio.sleep(OUTAGE)
    await browser.send(key("b"))
    assert await typed(pve, "ab") == "ab"
    own_redis.start()

    session = await ConsoleSession.objects.aget(pk=ticket.session.pk)
    assert session.is_open
    await sync_to_async(console_session_terminate)(session=session, actor=admin_a)
    # The first close the page gets: nothing closed it during the outage.
    assert await closed_with(communicator) == 4410, "re-subscribed: the End reached it through the channel layer"
    session = await released(ticket)
    assert session.close_reason == "terminated" and session.bytes_to_server > 0


@needs_redis
async def test_an_end_during_a_redis_outage_ends_the_console_through_its_record(
    own_redis, monkeypatch, caplog, manager_a, admin_a, sim_server
):
    monkeypatch.setattr(services, "HEARTBEAT_INTERVAL", timedelta(seconds=1))
    ticket, communicator, _ = await open_console(manager_a, sim_server)
    own_redis.stop()

    client = Client()
    await sync_to_async(client.force_login)(admin_a)
    url = reverse("api:console-session-terminate", args=[ticket.session.pk])
    first = await sync_to_async(client.post)(url)
    assert first.status_code == 202
    # The relay lives until its next heartbeat: a repeated End is taken (and sent again), not refused.
    assert (await sync_to_async(client.post)(url)).status_code == 202
    assert await closed_with(communicator) == 4410
    session = await closed_session(ticket)
    assert session.close_reason == "terminated"
    session = await released(ticket)
    assert session.bytes_to_server > 0
    audited = [event.details async for event in AuditEvent.objects.filter(action="console terminated")]
    told = {"session": session.pk, "user": manager_a.username, "told_by": "heartbeat"}
    assert sorted(audited, key=len) == [told, {**told, "repeated": True}]
    assert (await sync_to_async(client.post)(url)).status_code == 409, "once its relay is gone, it has ended"


@needs_redis
async def test_a_new_console_during_a_redis_outage_is_refused_without_a_ticket_or_record(
    own_redis, manager_a, sim_server
):
    own_redis.stop()
    client = Client()
    await sync_to_async(client.force_login)(manager_a)
    answer = await sync_to_async(client.post)(reverse("api:guest-console", args=[sim_server.pk, RUNNING_VM]))
    assert answer.status_code == 503 and int(answer["Retry-After"]) > 0
    assert answer.json() == {"detail": "Consoles are temporarily unavailable.", "code": "console_unavailable"}
    assert not await ConsoleSession.objects.aexists()
    own_redis.start()
    answer = await sync_to_async(client.post)(reverse("api:guest-console", args=[sim_server.pk, RUNNING_VM]))
    assert answer.status_code == 201


@needs_postgres
async def test_a_console_relays_through_a_database_outage_and_its_close_is_recorded_after_it(
    monkeypatch, caplog, database_outage, manager_a, sim_server, pve
):
    monkeypatch.setattr(services, "HEARTBEAT_INTERVAL", timedelta(seconds=0.2))
    ticket, communicator, browser = await open_console(manager_a, sim_server)
    await asgiref.sync.sync_to_async(database_outage.start)()
    await browser.send(key("a"))
    assert await typed(pve, "a") == "a", "the console relays while the database is down"
    await logged(caplog, "heartbeat failed")  # and the console goes on
    await communicator.disconnect()  # the browser leaves during the outage: its close cannot be recorded yet
    await logged(caplog, "recording its close failed")

    await asgiref.sync.sync_to_async(database_outage.end)()
    await asgiref.sync.sync_to_async(connections.close_all)()
    session = await released(ticket)
    assert session.close_reason == "client_closed" and session.bytes_to_server > 0


def _terminate_backend(pid: int) -> None:
    """pg_terminate_backend from a connection of its own, as an operator or a failover would."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@needs_postgres
async def test_a_close_is_recorded_through_a_killed_database_connection(monkeypatch, manager_a, sim_server):
    ticket, communicator, _ = await open_console(manager_a, sim_server)
    close = services.console_session_close
    kills = []

    def close_on_a_killed_connection(**kwargs):
        if not kills:
            kills.append(connection.connection.info.backend_pid)
            _terminate_backend(kills[0])
        return close(**kwargs)

    monkeypatch.setattr(services, "console_session_close", close_on_a_killed_connection)
    await communicator.disconnect()
    session = await closed_session(ticket)
    assert kills, "the connection recording the close was killed"
    assert session.close_reason == "client_closed" and session.bytes_to_client > 0


def _maintenance_connection():
    """A connection to the server's maintenance database, from which the test database can be closed and opened."""
    return psycopg.connect(**{**connection.get_connection_params(), "dbname": "postgres"}, autocommit=True)


class DatabaseOutage:
    """The test database refusing every connection (as while PostgreSQL restarts), its open ones killed."""

    def __init__(self) -> None:
        self.name = connection.settings_dict["NAME"]
        self.admin = _maintenance_connection()

    def start(self) -> None:
        connections.close_all()
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self.admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [self.name])

    def end(self) -> None:
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


@pytest.fixture
def database_outage(db):
    outage = DatabaseOutage()
    yield outage
    outage.end()
    outage.admin.close()
    connections.close_all()  # this thread's was killed: the test database's flush opens a new one


@needs_postgres
def test_a_database_outage_is_a_503_with_retry_after_json_for_the_api_and_a_page_elsewhere(manager_a, database_outage):
    client = Client(raise_request_exception=False)
    client.force_login(manager_a)
    database_outage.start()

    api = client.get(reverse("api:console-session-list"))
    assert api.status_code == 503 and int(api["Retry-After"]) > 0
    assert api.json() == {"detail": "The service is temporarily unavailable: try again shortly.", "code": "unavailable"}
    page = client.get(reverse("portal:home"))
    assert page.status_code == 503 and int(page["Retry-After"]) > 0
    assert "Temporarily unavailable" in page.content.decode()


@pytest.fixture
def web_process(tmp_path):
    """`python -m console.flow` serving the test database (embedded channel layer) behind a proxy, as production
    runs it; yields the process, its port and its log."""
    settings_dict = connection.settings_dict
    database = "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(**settings_dict)
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    port = free_port()
    log = (tmp_path / "web.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "console.flow", "-b", "127.0.0.1", "-p", str(port), "nexus.asgi:application"],
        cwd=Path(__file__).resolve().parents[2],
        env={**env, "DATABASE_URL": database, "TRUSTED_PROXY_COUNT": "1"},  # behind one proxy
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(400):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except OSError:
            assert process.poll() is None, (tmp_path / "web.log").read_text()
            subprocess.run(["sleep", "0.05"], check=True)
    yield process, port, tmp_path / "web.log"
    if process.poll() is None:
        process.kill()
    process.wait(10)
    log.close()


async def console_on(process_port, user, server):
    """A console opened on the web process, once its relay greets the browser (RFB version)."""
    _, port, _ = process_port
    ticket = await sync_to_async(ticket_for)(user, server)
    cookie = (await sync_to_async(cookie_for)(user)).decode()
    socket = await connect(
        f"ws://127.0.0.1:{port}{WEBSOCKET_PATH}",
        origin=f"http://127.0.0.1:{port}",
        subprotocols=ticket.websocket_protocols,
        additional_headers={"Cookie": cookie, "X-Forwarded-For": CLIENT},  # as the proxy adds it
    )
    assert len(await socket.recv()) == 12
    return ticket, socket


@shares_the_database
async def test_a_web_process_stopping_closes_its_consoles_records(web_process, manager_a, sim_server):
    process, _, log = web_process
    ticket, socket = await console_on(web_process, manager_a, sim_server)
    process.send_signal(signal.SIGTERM)
    # The browser is told the service restarts (1012: the page reconnects, tests/cluster); the record says so.
    with pytest.raises(ConnectionClosed) as closed:
        await socket.recv()
    assert closed.value.rcvd.code == 1012
    await asyncio.to_thread(process.wait, 30)
    session = await ConsoleSession.objects.aget(pk=ticket.session.pk)
    assert (session.close_reason, session.channel_name) == ("service_restarting", "")
    # The access log has the console's line, from the client's address (not the proxy's), without the token.
    assert f"{CLIENT}:0 - - [" in log.read_text() and '"WSCONNECT /ws/console/"' in log.read_text()
    assert ticket.token not in log.read_text()


@shares_the_database
async def test_the_consoles_of_a_killed_web_process_are_closed_by_the_task(
    monkeypatch, web_process, manager_a, sim_server
):
    process, _, _ = web_process
    ticket, _ = await console_on(web_process, manager_a, sim_server)
    process.kill()
    await asyncio.to_thread(process.wait, 30)
    assert (await ConsoleSession.objects.aget(pk=ticket.session.pk)).is_open, "nobody recorded its end"

    monkeypatch.setattr(services, "HEARTBEAT_LOST", timedelta(0))  # as if its beats were missed for long enough
    await sync_to_async(close_stale_sessions.apply)()
    session = await ConsoleSession.objects.aget(pk=ticket.session.pk)
    assert session.closed_at and (session.close_reason, session.channel_name) == ("relay_lost", "")
