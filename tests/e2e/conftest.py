"""End-to-end harness: the whole project under a real daphne, driven by headless Chromium.

Daphne (console.flow.FlowControlServer, as in production) runs in a thread of the test
process, started once per session because Twisted's reactor cannot be restarted. Being
the same process, it uses the test database pytest-django created: on PostgreSQL through
connections of its own (tests use `transactional_db`, so what they create is committed);
on SQLite the test database lives in memory, so during each test every thread shares the
test thread's connection, as Django's LiveServerThread does.

Playwright's sync API keeps an asyncio loop running in the test thread, and Django refuses
ORM calls while one runs: a test creates its rows first (fixtures listed before `browser`)
and checks the outcome through the simulator, the page, or the API.
"""

import os
import shutil
import threading
import time
import types
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from metrics.models import HourlyRollup
from metrics.selectors import hour_start
from servers.models import ProxmoxServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT = 20.0
# After the browser closes, how long the server may take to finish its consoles (each records its session).
SETTLE_TIMEOUT = 10.0


class LiveServer:
    """Daphne with the project's ASGI application, on a free port of 127.0.0.1."""

    def __init__(self):
        # Importing daphne's server installs Twisted's asyncio reactor: do it here, not at collection.
        from console.flow import FlowControlServer
        from nexus.asgi import application

        self.server = FlowControlServer(
            application=application,
            endpoints=["tcp:port=0:interface=127.0.0.1"],
            signal_handlers=False,
            verbosity=0,
        )
        self.thread = threading.Thread(target=self.server.run, name="daphne", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.server.listening_addresses:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("daphne did not start listening")
            time.sleep(0.02)
        host, port = self.server.listening_addresses[0]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(reactor.stop)
        self.thread.join(10)

    def settle(self) -> None:
        """Wait until every connection's application has finished (consoles closed and recorded)."""
        from twisted.internet import reactor
        from twisted.internet.threads import blockingCallFromThread

        def busy() -> bool:
            return any(
                details.get("application_instance") is not None and not details["application_instance"].done()
                for details in self.server.connections.values()
            )

        deadline = time.monotonic() + SETTLE_TIMEOUT
        while blockingCallFromThread(reactor, busy):
            if time.monotonic() > deadline:
                raise RuntimeError("the server still has consoles open after the browser closed")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def daphne_server(django_db_setup):
    server = LiveServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def shared_sqlite_connection(transactional_db):
    """On in-memory SQLite, let daphne's threads use this thread's connection (they cannot open the database)."""
    connection = connections["default"]
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return
    connection.ensure_connection()
    per_thread = connections._connections
    connections._connections = types.SimpleNamespace(default=connection)
    connection.inc_thread_sharing()
    try:
        yield
    finally:
        connection.dec_thread_sharing()
        connections._connections = per_thread


@pytest.fixture(scope="session")
def chromium_executable():
    """Debian's Chromium (Playwright cannot download its own here): missing fails on CI, else skips."""
    if not shutil.which(CHROMIUM):
        message = f"the browser tests need Chromium at {CHROMIUM} (`make browser` installs Debian's package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def browser(chromium_executable, transactional_db, shared_sqlite_connection, daphne_server):
    """Headless Chromium. List it after the fixtures that create rows (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
    daphne_server.settle()


@pytest.fixture
def day_of_checks(sim_server):
    """A day of hourly health figures for the simulated server, with a bad hour, so its chart has data."""
    now = hour_start(timezone.now())
    for back in range(24):
        bad = back == 5
        HourlyRollup.objects.create(
            server=sim_server,
            hour=now - timedelta(hours=back),
            checks=60,
            successes=30 if bad else 60,
            sum_ms=60 * (40 + back),
            avg_ms=400 if bad else 40 + back,
            p95_ms=900 if bad else 60 + back,
        )
    ProxmoxServer.objects.filter(pk=sim_server.pk).update(connection_status="online", success_rate=97.9)
