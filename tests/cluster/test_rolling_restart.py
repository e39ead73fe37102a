"""A rolling restart users do not notice: the web process holding a console gets SIGTERM; the console page
reconnects by itself, with a fresh token, through HAProxy to the other process."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from console.models import ConsoleSession
from tests.cluster.test_cross_process import consoles_open, session_cookie
from tests.e2e.conftest import CHROMIUM_ARGS

pytestmark = [pytest.mark.cluster, pytest.mark.browser]

RUNNING_VM = 100
# The page retries after about half a second; HAProxy sends the new connection to the process still listening.
BACK_WITHIN_MS = 10_000


def logged_in_context(chromium, base_url, cookie: str):
    """A browser with a login session made by the test (the processes do not know the tests' password hasher)."""
    context = chromium.new_context()
    name, value = cookie.split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": base_url}])
    return context


def test_a_console_comes_back_on_the_other_process_when_its_process_restarts(
    chromium_executable, local_cluster, manager_a, sim_server
):
    cookie = session_cookie(manager_a)  # before Playwright's loop runs: no ORM calls then
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = logged_in_context(chromium, local_cluster.url, cookie).new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(error))
            console_url = f"{local_cluster.url}{reverse('console:page', args=[sim_server.pk, RUNNING_VM])}"
            page.goto(console_url)
            status = page.locator("#console-status")
            expect(status).to_have_attribute("data-state", "connected", timeout=BACK_WITHIN_MS)
            holder = [consoles_open(url) for url in local_cluster.web_urls].index(1)

            local_cluster.stop_web(holder)

            expect(status).to_have_attribute("data-state", "connected", timeout=BACK_WITHIN_MS)
            assert consoles_open(local_cluster.web_urls[1 - holder]) == 1
            assert page.url == console_url and not errors
            expect(page.locator("h1")).to_have_text("web-01")
        finally:
            chromium.close()
    # The session log: the first console ended by the restart, the second opened with a token of its own.
    first, second = ConsoleSession.objects.filter(user=manager_a).order_by("created_at")
    assert first.opened_at and first.close_reason == "service_restarting"
    assert second.opened_at and second.close_reason in ("", "client_closed")  # the browser closed it at the end
