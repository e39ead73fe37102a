"""The Guests page in headless Chromium: quick actions with the task's progress and no reload, who sees which
buttons and guests, and screenshots of the page as a table and as cards (test-artifacts/screenshots/)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.conftest import make_server, make_user
from tests.e2e.test_design_browser import DESKTOP, PHONE, SCREENSHOTS, SIDEWAYS_SCROLL, open_as
from vms.services import guest_grant_set

pytestmark = pytest.mark.browser

# Set on the page's window: still there after an action means the page was not reloaded.
NOT_RELOADED = "window.notReloaded = true"


def guests_page(browser, daphne_server, user, **options):
    page = open_as(browser, daphne_server, user, **options)
    page.goto(f"{daphne_server.url}{reverse('vms:guests')}")
    page.wait_for_load_state()  # htmx and the page's script are in
    return page


def row(page, server, vmid):
    return page.locator(f"#guest-{server.pk}-{vmid}")


def test_a_manager_starts_a_stopped_guest_and_watches_it_run_without_a_reload(
    sim_server, manager_a, viewer_a, pve, daphne_server, browser
):
    pve.task_delay = 2
    # Another member has the page open: the guest's new state reaches it through the live events.
    watcher = guests_page(browser, daphne_server, viewer_a)
    expect(watcher.locator("[data-live-state]")).to_have_attribute("data-state", "live")
    watcher.evaluate(NOT_RELOADED)
    page = guests_page(browser, daphne_server, manager_a)
    page.evaluate(NOT_RELOADED)
    db = row(page, sim_server, 102)
    expect(db.locator(".status")).to_have_text("stopped")

    db.get_by_role("button", name="Start").click()
    progress = db.locator(".guest-task")
    expect(progress).to_contain_text("Starting…")
    expect(progress).to_contain_text("starting VM 102 (db-01)")
    expect(db.locator(".status")).to_have_text("running", timeout=10_000)
    expect(progress).to_have_count(0)
    expect(db.get_by_role("button", name="Shut down")).to_be_visible()
    expect(db.get_by_role("link", name="Console")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    assert pve.guest(102).running
    expect(row(watcher, sim_server, 102).locator(".status")).to_have_text("running")
    assert watcher.evaluate("window.notReloaded") is True


def test_stop_asks_first_and_a_failed_task_shows_proxmoxs_reason(sim_server, manager_a, pve, daphne_server, browser):
    pve.task_delay = 1
    page = guests_page(browser, daphne_server, manager_a)
    web = row(page, sim_server, 100)
    web.locator("summary").click()
    web.get_by_role("button", name="Stop").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog.locator("h2")).to_have_text("Stop web-01?")
    page.keyboard.press("Escape")
    assert pve.guest(100).running

    pve.faults.task_error = "stop failed: got timeout"
    if not web.locator("details.menu").evaluate("menu => menu.open"):
        web.locator("summary").click()
    web.get_by_role("button", name="Stop").click()
    dialog.locator("[data-confirm-accept]").click()
    expect(web.locator(".guest-problem")).to_contain_text("Stop failed: stop failed: got timeout", timeout=10_000)
    expect(web.locator(".status")).to_have_text("running")


def test_a_viewer_sees_no_action_buttons(sim_server, viewer_a, daphne_server, browser):
    page = guests_page(browser, daphne_server, viewer_a)
    expect(row(page, sim_server, 100)).to_contain_text("web-01")
    expect(page.locator("main form.guest-actions")).to_have_count(0)
    expect(page.locator("main button[name=action]")).to_have_count(0)


@pytest.fixture
def customer(sim_server):
    user = make_user("customer")
    guest_grant_set(user=user, server=sim_server, vmid=101, console=True, power=True)
    guest_grant_set(user=user, server=sim_server, vmid=200)
    return user


def test_a_customer_sees_only_her_guests(sim_server, customer, daphne_server, browser):
    page = guests_page(browser, daphne_server, customer)
    expect(page.locator("main tbody tr")).to_have_count(2)
    expect(row(page, sim_server, 101)).to_contain_text("web-02")
    expect(row(page, sim_server, 101).get_by_role("button", name="Reboot")).to_be_visible()
    expect(row(page, sim_server, 200).locator("button")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("web-01")
    expect(page.locator("main")).not_to_contain_text(sim_server.host)


@pytest.fixture
def offline_server(tenant_a):
    """A server that does not answer, so the page shows how it says so."""
    return make_server(tenant_a, "pve-offsite", host="127.0.0.1", port=9)


def test_screenshots_of_the_guests_page_as_table_and_cards(
    sim_server, offline_server, manager_a, daphne_server, browser
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = guests_page(browser, daphne_server, manager_a)
    for view in ("table", "cards"):
        page.goto(f"{daphne_server.url}{reverse('vms:guests')}?view={view}")
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            for theme in ("light", "dark"):
                page.emulate_media(color_scheme=theme)
                page.wait_for_timeout(100)
                page.screenshot(path=SCREENSHOTS / f"guests-{view}-{theme}-{size}.png", full_page=True)
            if size == "phone":
                assert page.evaluate(SIDEWAYS_SCROLL) <= 0, f"the guests page ({view}) scrolls sideways on a phone"
    # The choice is remembered: back on the page without asking, it is cards.
    page.goto(f"{daphne_server.url}{reverse('vms:guests')}")
    expect(page.locator(".guest-card").first).to_be_visible()


def test_a_tenant_admins_navigation_with_guests_stays_on_one_row_at_1280(sim_server, admin_a, daphne_server, browser):
    page = guests_page(browser, daphne_server, admin_a)
    expect(page.locator(".header-nav")).to_contain_text("Guests")
    brand, tools = page.locator(".header-brand").bounding_box(), page.locator(".header-tools").bounding_box()
    assert tools["y"] < brand["y"] + brand["height"], "the header's tools wrapped onto a second row"
