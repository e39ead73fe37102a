"""The dashboard in headless Chromium: as health checks see a simulated server fail and recover, its status changes
on the page without a reload, also across a gap in the stream (the page catches up once it reconnects); its 24-hour
chart draws."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from playwright.sync_api import expect

from metrics.services import servers_health_check
from servers.models import ProxmoxServer
from tests.e2e.test_design_browser import open_as

pytestmark = pytest.mark.browser

# Set on the page's window: still there later means the page was not reloaded.
NOT_RELOADED = "window.notReloaded = true"
# Lets the test cut the page's event stream and keep it from reconnecting (to a path no route takes) for a while.
STREAM_SWITCH = """
const RealWebSocket = window.WebSocket;
window.liveSockets = [];
window.liveBlocked = false;
window.WebSocket = function (url, protocols) {
    const socket = new RealWebSocket(window.liveBlocked ? String(url).replace("/events/", "/cut/") : url, protocols);
    window.liveSockets.push(socket);
    return socket;
};
"""


def health_check(server):
    """One health check of `server`, run in the live server's own thread pool as a worker's would be (Django refuses
    the ORM in the test thread while Playwright's loop runs there, and the in-memory channel layer is not
    thread-safe: its events must be sent from the server's event loop)."""
    from twisted.internet import defer, reactor
    from twisted.internet.threads import blockingCallFromThread

    check = database_sync_to_async(lambda: servers_health_check(servers=ProxmoxServer.objects.filter(pk=server.pk)))
    blockingCallFromThread(reactor, lambda: defer.Deferred.fromFuture(asyncio.ensure_future(check())))


def test_the_dashboard_follows_a_server_going_down_and_back_without_a_reload(
    sim_server, day_of_checks, manager_a, pve, daphne_server, browser
):
    page = open_as(browser, daphne_server, manager_a)  # the home page is the dashboard
    page.add_init_script(STREAM_SWITCH)
    page.reload()
    page.wait_for_load_state()
    badge = page.locator(f'[data-server-status="{sim_server.pk}"]')
    expect(badge).to_have_text("Online")
    expect(page.locator("[data-live-state]")).to_have_attribute("data-state", "live")
    # The chart draws: uPlot's canvas in the server's card.
    expect(page.locator(".server-health .chart canvas")).to_have_count(1)
    expect(page.locator(".server-health .chart .u-legend")).to_contain_text("Checks passed")
    page.evaluate(NOT_RELOADED)

    pve.faults.http_500 = True
    health_check(sim_server)  # one failure: degraded
    expect(badge).to_have_text("Degraded")
    health_check(sim_server)  # two in a row: offline
    expect(badge).to_have_text("Offline")
    expect(badge).to_have_class("status offline")
    expect(page.locator(".dashboard-stats")).to_contain_text("1 offline")  # the figures were fetched again

    # The server recovers while the stream is cut: the page hears nothing, then catches up once it reconnects.
    page.evaluate("window.liveBlocked = true; window.liveSockets.forEach((socket) => socket.close())")
    expect(page.locator("[data-live-state]")).to_have_attribute("data-state", "offline")
    pve.faults.clear()
    health_check(sim_server)
    expect(badge).to_have_text("Offline")
    page.evaluate("window.liveBlocked = false")
    expect(page.locator("[data-live-state]")).to_have_attribute("data-state", "live", timeout=15_000)
    expect(badge).to_have_text("Online")
    expect(page.locator(".dashboard-stats")).to_contain_text("0 offline")
    assert page.evaluate("window.notReloaded") is True
