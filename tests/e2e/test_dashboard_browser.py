"""The dashboard in headless Chromium: a server's status changes on the page as it happens, without a reload, and
its 24-hour chart draws."""

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer
from django.db import connections
from playwright.sync_api import expect

from servers.models import ProxmoxServer
from tenants.events import MESSAGE_TYPE, tenant_group
from tests.e2e.test_design_browser import open_as

pytestmark = pytest.mark.browser

# Set on the page's window: still there later means the page was not reloaded.
NOT_RELOADED = "window.notReloaded = true"


def server_turns(server, status):
    """What a health check that sees the server change does: the status saved, then `server.status` published, into
    the running server's own event loop (the in-memory channel layer is not thread-safe)."""
    from twisted.internet import defer, reactor
    from twisted.internet.threads import blockingCallFromThread

    def save():
        ProxmoxServer.objects.filter(pk=server.pk).update(connection_status=status)
        if connections["default"].vendor != "sqlite":  # its own connection (SQLite's is shared with the test)
            connections.close_all()

    # Django refuses the ORM in the test thread while Playwright's loop runs there.
    saving = threading.Thread(target=save)
    saving.start()
    saving.join(10)
    message = {"type": MESSAGE_TYPE, "kind": "server.status", "data": {"server": server.pk, "status": status}}
    layer = get_channel_layer()
    blockingCallFromThread(
        reactor,
        lambda: defer.Deferred.fromFuture(
            asyncio.ensure_future(layer.group_send(tenant_group(server.tenant_id), message))
        ),
    )


def test_the_dashboard_follows_a_server_going_down_and_back_without_a_reload(
    sim_server, day_of_checks, manager_a, daphne_server, browser
):
    page = open_as(browser, daphne_server, manager_a)  # the home page is the dashboard
    page.wait_for_load_state()
    badge = page.locator(f'[data-server-status="{sim_server.pk}"]')
    expect(badge).to_have_text("Online")
    expect(page.locator("[data-live-state]")).to_have_attribute("data-state", "live")
    # The chart draws: uPlot's canvas, with a point per hour in its data.
    expect(page.locator(".server-health .chart canvas")).to_have_count(1)
    assert page.evaluate("document.querySelector('.chart .uplot') !== null")
    page.evaluate(NOT_RELOADED)

    server_turns(sim_server, "offline")
    expect(badge).to_have_text("Offline")
    expect(badge).to_have_class("status offline")
    expect(page.locator(".dashboard-stats")).to_contain_text("1 offline")  # the figures were fetched again

    server_turns(sim_server, "online")
    expect(badge).to_have_text("Online")
    expect(page.locator(".dashboard-stats")).to_contain_text("0 offline")
    assert page.evaluate("window.notReloaded") is True
