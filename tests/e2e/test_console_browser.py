"""The console page in headless Chromium: portal -> daphne -> relay -> simulated Proxmox, and back."""

import os
import socket

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from tenants import roles
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser

RUNNING_VM = 100  # web-01
STOPPED_VM = 102  # db-01
CONTROL_L, ALT_L, DELETE, RETURN = 0xFFE3, 0xFFE9, 0xFFFF, 0xFF0D

# Colours in the noVNC canvas, sampled: a blank (or never drawn) canvas has one.
CANVAS_COLOURS = """() => {
    const canvas = document.querySelector("#screen canvas");
    if (!canvas || !canvas.width) return 0;
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    for (let i = 0; i < pixels.length; i += 4 * 37) {
        colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    }
    return colours.size;
}"""

OPEN_SESSION_COUNT = """async (tenant) => {
    return (await (await fetch(`/api/v1/console-sessions/?tenant=${tenant}&open=1`)).json()).count;
}"""

# Asks for one token and opens two WebSockets with it: the second must be refused.
USE_TOKEN_TWICE = """async (api) => {
    const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
    const ticket = await (await fetch(api, {method: "POST", headers: {"X-CSRFToken": csrf}})).json();
    const url = `ws://${location.host}${ticket.websocket_path}`;
    const open = () => new Promise((resolve) => {
        const socket = new WebSocket(url, ticket.websocket_protocols);
        socket.onopen = () => { resolve({opened: true, protocol: socket.protocol}); socket.close(); };
        socket.onclose = (event) => resolve({opened: false, code: event.code});
    });
    const first = await open();
    return {first, second: await open()};
}"""


def log_in(browser, daphne_server, user):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{daphne_server.url}{reverse('login')}")
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{daphne_server.url}/")
    return page


def record_token_requests(page) -> list:
    """The page's console token requests (POSTs to the API's .../console/), as they happen."""
    requests = []
    page.on("request", lambda r: requests.append(r) if r.method == "POST" and r.url.endswith("/console/") else None)
    return requests


def console_url(daphne_server, server, vmid=RUNNING_VM):
    return f"{daphne_server.url}{reverse('console:page', args=[server.pk, vmid])}"


def eventually(page, condition, timeout=5.0, message="condition not met"):
    """Poll `condition` while Playwright keeps handling the page's events."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        page.wait_for_timeout(50)
    assert condition(), message


def test_a_manager_works_in_the_console_until_an_admin_ends_it(
    sim_server, manager_a, admin_a, pve, daphne_server, browser
):
    guest = pve.guest(RUNNING_VM)
    page = log_in(browser, daphne_server, manager_a)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=daphne_server.url)
    token_requests = record_token_requests(page)
    # The tenant admin watches the console sessions page: the console shows up there as it opens.
    admin = log_in(browser, daphne_server, admin_a)
    admin.click("nav >> text=Consoles")
    expect(admin.locator("[data-live-state]")).to_have_attribute("data-state", "live")
    admin.evaluate("window.notReloaded = true")
    page.goto(console_url(daphne_server, sim_server))
    status = page.locator("#console-status")

    expect(page.locator("h1")).to_have_text("web-01")
    expect(page.locator(".console-facts")).to_contain_text("pve-sim")
    expect(status).to_have_attribute("data-state", "connected", timeout=10_000)
    eventually(page, lambda: page.evaluate(CANVAS_COLOURS) > 2, message="the canvas stays blank")

    page.click("#ctrl-alt-del")
    eventually(page, lambda: {(True, CONTROL_L), (True, ALT_L), (True, DELETE)} <= set(guest.keys))

    page.click("#toggle-type")
    page.fill("#type-text", "hunter2\n")
    page.click("#type-send")
    eventually(page, lambda: "hunter2" in guest.typed_text() and (True, RETURN) in guest.keys)

    # Ctrl+Shift+V on the console types the browser's clipboard, and the guest never sees the V.
    page.evaluate("navigator.clipboard.writeText('from-the-clipboard')")
    page.locator("#screen canvas").click()
    page.keyboard.press("Control+Shift+V")
    eventually(page, lambda: "from-the-clipboard" in guest.typed_text())
    assert not {keysym for _, keysym in guest.keys} & {ord("v"), ord("V")}

    page.click("#toggle-clipboard")
    page.fill("#clipboard-text", "grüße aus Nexus")
    page.click("#clipboard-send")
    eventually(page, lambda: "grüße aus Nexus" in guest.clipboard)

    if screenshot := os.environ.get("CONSOLE_SCREENSHOT"):
        page.screenshot(path=screenshot)

    # The tenant admin ends it from the portal's console sessions page, where it appeared without a reload.
    open_row = admin.locator("table.list").first.locator("tbody tr")
    expect(open_row).to_have_count(1)
    expect(open_row).to_contain_text("manager-a")
    assert admin.evaluate("window.notReloaded") is True
    expect(open_row).to_contain_text("web-01 (100)")
    open_row.locator("button", has_text="End").click()
    expect(admin.locator("main .message.success")).to_contain_text("Ended manager-a's console of web-01.")
    expect(admin.locator("table.list").first).to_contain_text("No open console sessions.")
    expect(status).to_have_attribute("data-state", "ended")
    expect(status).to_contain_text("ended by an administrator")
    requested = len(token_requests)
    page.wait_for_timeout(2500)  # longer than the first reconnect delay
    assert len(token_requests) == requested, "the page asked for a new console after an administrator ended it"
    expect(status).to_contain_text("ended by an administrator")
    assert admin.evaluate(OPEN_SESSION_COUNT, "tenant-a") == 0


def test_another_tenants_user_cannot_open_the_page(sim_server, admin_b, daphne_server, browser):
    page = log_in(browser, daphne_server, admin_b)
    assert page.goto(console_url(daphne_server, sim_server)).status == 404


def test_a_console_token_works_once(sim_server, manager_a, daphne_server, browser):
    page = log_in(browser, daphne_server, manager_a)
    api = reverse("api:guest-console", args=[sim_server.pk, RUNNING_VM])
    sockets = page.evaluate(USE_TOKEN_TWICE, api)
    assert sockets["first"] == {"opened": True, "protocol": "binary"}
    assert sockets["second"]["opened"] is False


@pytest.fixture
def console_only(sim_server):
    user = make_user("console-only")
    assign_perm(roles.OPEN_CONSOLE, user, sim_server)
    return user


def test_a_stopped_guest_is_not_retried_nor_offered_start_without_power(
    sim_server, console_only, daphne_server, browser
):
    page = log_in(browser, daphne_server, console_only)
    token_requests = record_token_requests(page)
    page.goto(console_url(daphne_server, sim_server, STOPPED_VM))
    status = page.locator("#console-status")
    expect(status).to_have_attribute("data-state", "ended")
    expect(status).to_contain_text("db-01 is not running.")
    page.wait_for_timeout(1500)
    assert token_requests == []
    expect(page.locator("#start-guest")).to_be_hidden()
    expect(page.locator("#reconnect")).to_be_visible()


def test_a_stopped_guest_is_started_from_its_console_page_which_then_connects(
    sim_server, manager_a, pve, daphne_server, browser
):
    pve.task_delay = 1.5
    page = log_in(browser, daphne_server, manager_a)
    page.goto(console_url(daphne_server, sim_server, STOPPED_VM))
    status = page.locator("#console-status")
    expect(status).to_contain_text("db-01 is not running.")
    page.click("#start-guest")
    expect(status).to_contain_text("Starting db-01…")
    expect(status).to_have_attribute("data-state", "connected", timeout=10_000)
    expect(page.locator("#guest-state")).to_have_text("running")
    assert pve.guest(STOPPED_VM).running


def test_a_dropped_console_reconnects_with_a_new_token(sim_server, manager_a, pve, daphne_server, browser):
    page = log_in(browser, daphne_server, manager_a)
    token_requests = record_token_requests(page)
    page.goto(console_url(daphne_server, sim_server))
    status = page.locator("#console-status")
    expect(status).to_have_attribute("data-state", "connected", timeout=10_000)

    pve.faults.drop_ws_after = 1  # the simulated pveproxy cuts the console at its next screen update
    expect(status).to_have_attribute("data-state", "disconnected")
    expect(status).to_contain_text("Proxmox closed the console")
    pve.faults.clear()
    expect(status).to_have_attribute("data-state", "connected", timeout=10_000)
    assert len(token_requests) == 2


# Asks the API for a console token, as an integration would, and returns its answer.
REQUEST_TICKET = """async (api) => {
    const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
    return await (await fetch(api, {method: "POST", headers: {"X-CSRFToken": csrf}})).json();
}"""


def test_the_apis_console_url_opens_the_console_with_that_token(sim_server, manager_a, daphne_server, browser):
    page = log_in(browser, daphne_server, manager_a)
    ticket = page.evaluate(REQUEST_TICKET, reverse("api:guest-console", args=[sim_server.pk, RUNNING_VM]))
    token_requests = record_token_requests(page)
    page.goto(f"{daphne_server.url}{ticket['console_url']}")
    expect(page.locator("#console-status")).to_have_attribute("data-state", "connected", timeout=10_000)
    assert token_requests == [], "the page used the token it was handed"
    assert "#" not in page.url, "the spent token left the address bar"


def test_while_redis_does_not_answer_the_page_says_consoles_are_unavailable_and_retries(
    sim_server, manager_a, daphne_server, browser, settings
):
    with socket.socket() as probe:  # a port nothing listens on: a Redis that is down
        probe.bind(("127.0.0.1", 0))
        settings.REDIS_URL = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    page = log_in(browser, daphne_server, manager_a)
    page.goto(console_url(daphne_server, sim_server))
    status = page.locator("#console-status")
    expect(status).to_contain_text("Consoles are temporarily unavailable. Reconnecting in")
    settings.REDIS_URL = ""  # Redis is back (the embedded layer here)
    expect(status).to_have_attribute("data-state", "connected", timeout=10_000)
