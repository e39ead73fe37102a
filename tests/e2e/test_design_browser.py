"""The design system in headless Chromium: the theme toggle, phone widths, the confirm dialog, and screenshots of the
main pages in light and dark, desktop and phone, saved under test-artifacts/screenshots/ for people to look at."""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD, make_console_session

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = settings.BASE_DIR / "test-artifacts" / "screenshots"
SIDEWAYS_SCROLL = "document.documentElement.scrollWidth - window.innerWidth"
BODY_BACKGROUND = "getComputedStyle(document.body).backgroundColor"
# Runs before the page's own scripts: notes the theme on <html> at the moment <body> starts, before any paint.
THEME_WHEN_BODY_STARTS = """
new MutationObserver((records, observer) => {
    if (!document.body) return;
    window.themeWhenBodyStarts = document.documentElement.dataset.theme || "none";
    observer.disconnect();
}).observe(document, { childList: true, subtree: true });
"""


def landing(daphne_server) -> re.Pattern:
    """Where a login lands: the home page, or the Platform page it sends platform admins to."""
    return re.compile(rf"{re.escape(daphne_server.url)}/(operators/)?$")


def open_as(browser, daphne_server, user=None, *, viewport=DESKTOP, color_scheme="light"):
    """A fresh browser context (its own localStorage) on the portal: logged in as `user`, or on the login page."""
    page = browser.new_context(viewport=viewport, color_scheme=color_scheme).new_page()
    page.goto(f"{daphne_server.url}{reverse('login')}")
    if user:
        page.fill("#id_username", user.get_username())
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(landing(daphne_server))
    return page


def test_the_theme_choice_survives_a_reload(admin_a, daphne_server, browser):
    page = open_as(browser, daphne_server, admin_a, color_scheme="light")
    root, toggle = page.locator("html"), page.locator("[data-theme-toggle]")
    expect(root).to_have_attribute("data-theme-choice", "system")
    light = page.evaluate(BODY_BACKGROUND)

    toggle.click()
    expect(root).to_have_attribute("data-theme", "light")
    toggle.click()
    expect(root).to_have_attribute("data-theme", "dark")
    dark = page.evaluate(BODY_BACKGROUND)
    assert dark != light

    page.add_init_script(THEME_WHEN_BODY_STARTS)
    page.reload()
    assert page.evaluate("window.themeWhenBodyStarts") == "dark"
    assert page.evaluate(BODY_BACKGROUND) == dark
    expect(toggle).to_have_attribute("aria-label", re.compile("^Theme: dark"))

    toggle.click()  # back to the system's choice, which is light here
    expect(root).to_have_attribute("data-theme-choice", "system")
    assert page.evaluate(BODY_BACKGROUND) == light


def test_the_home_and_server_pages_fit_a_phone(sim_server, day_of_checks, manager_a, daphne_server, browser):
    page = open_as(browser, daphne_server, manager_a, viewport=PHONE)
    for url in (reverse("portal:home"), reverse("vms:server", args=[sim_server.pk])):
        page.goto(f"{daphne_server.url}{url}")
        expect(page.locator("main")).to_contain_text("pve-sim")
        assert page.evaluate(SIDEWAYS_SCROLL) <= 0, f"{url} scrolls sideways on a 390 px phone"
        assert page.locator(".header").bounding_box()["width"] == PHONE["width"]

    # The navigation folds behind the menu button.
    navigation = page.locator("#site-nav")
    expect(navigation).to_be_hidden()
    page.click("[data-nav-toggle]")
    expect(navigation).to_be_visible()
    navigation.get_by_text("Servers", exact=True).click()
    expect(page).to_have_url(f"{daphne_server.url}/")


def test_a_button_with_data_confirm_asks_first(platform_admin, daphne_server, browser):
    page = open_as(browser, daphne_server, platform_admin)
    page.goto(f"{daphne_server.url}{reverse('design')}")
    stop, dialog = page.locator("#buttons button[data-confirm]"), page.locator("#confirm-dialog")

    stop.click()
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("Stop db-01?")
    expect(dialog.locator("[data-confirm-accept]")).to_have_text("Stop")
    expect(dialog.locator("[data-confirm-accept]")).to_have_class("btn btn-danger")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert "confirmed" not in page.url

    stop.click()
    dialog.locator("[data-confirm-accept]").click()
    expect(page).to_have_url(re.compile(r"\?confirmed=stop"))
    page.wait_for_load_state()  # the new page's deferred scripts (htmx) have run

    # The rest of the shared behaviour on this page: htmx under its CSP settings, remembered tabs, the chart.
    assert page.evaluate("[htmx.config.allowEval, htmx.config.includeIndicatorStyles]") == [False, False]
    page.get_by_role("tab", name="Configuration").click()
    page.reload()
    expect(page.get_by_role("tab", name="Configuration")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-config")).to_be_visible()
    expect(page.locator(".chart canvas").first).to_be_visible()


@pytest.fixture
def console_sessions(sim_server, manager_a):
    """One open and one closed console, so the sessions page has both tables filled."""
    now = timezone.now()
    make_console_session(manager_a, sim_server, guest_name="web-01", client_ip="192.0.2.10", opened_at=now)
    make_console_session(
        manager_a,
        sim_server,
        guest_name="web-01",
        opened_at=now,
        closed_at=now,
        close_reason="idle_timeout",
        bytes_to_client=31 * 1024 * 1024,
        bytes_to_server=90 * 1024,
    )


def test_screenshots_of_the_main_pages(
    sim_server, server_b, console_sessions, day_of_checks, admin_a, manager_a, platform_admin, daphne_server, browser
):
    """Each page in light and dark (the system's choice: nothing stored), on a desktop and a phone."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    server_page = reverse("vms:server", args=[sim_server.pk])
    pages_by_user = [
        (None, [("login", reverse("login"))]),
        (platform_admin, [("platform", reverse("portal:operators")), ("design", reverse("design"))]),
        (
            manager_a,
            [
                ("dashboard", reverse("portal:home")),
                ("server", server_page),
                ("console", reverse("console:page", args=[sim_server.pk, 100])),
            ],
        ),
        (admin_a, [("sessions", reverse("console:sessions")), ("404", "/no-such-page/")]),
    ]
    for user, pages in pages_by_user:
        page = open_as(browser, daphne_server, user)
        for name, url in pages:
            page.goto(f"{daphne_server.url}{url}")
            if name == "console":
                expect(page.locator("#console-status")).to_have_attribute("data-state", "connected", timeout=10_000)
            if name in ("dashboard", "sessions"):
                expect(page.locator("[data-live-state]").first).to_have_attribute("data-state", "live")
            save_screenshots(page, name)
        page.context.close()


def save_screenshots(page, name):
    """The page as it is now, in light and dark on a desktop and a phone (which it must fit without sideways
    scrolling; on a desktop the header keeps one row); the page is left at desktop size."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for theme in ("light", "dark"):
            page.emulate_media(color_scheme=theme)
            page.wait_for_timeout(100)  # charts and noVNC follow a resize on the next frame
            page.screenshot(path=SCREENSHOTS / f"{name}-{theme}-{size}.png", full_page=True)
        if size == "phone":
            assert page.evaluate(SIDEWAYS_SCROLL) <= 0, f"{name} scrolls sideways on a phone"
        elif page.locator(".header-tools").count():
            brand, tools = page.locator(".header-brand").bounding_box(), page.locator(".header-tools").bounding_box()
            assert tools["y"] < brand["y"] + brand["height"], f"{name}: the header wraps onto a second row"
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme=None)
