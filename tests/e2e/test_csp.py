"""Every page works under the strict Content-Security-Policy: the browser refuses nothing on them."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.test_console_browser import RUNNING_VM, console_url, log_in

pytestmark = pytest.mark.browser


def test_the_pages_and_a_console_run_without_a_single_policy_violation(
    sim_server, admin_a, pve, daphne_server, browser
):
    page = log_in(browser, daphne_server, admin_a)
    refused = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    policy = page.request.get(daphne_server.url + "/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy

    for path in [
        reverse("portal:home"),
        reverse("vms:server", args=[sim_server.pk]),
        reverse("vms:guests"),
        reverse("vms:guests") + "?view=cards",
        reverse("console:sessions"),
    ]:
        page.goto(daphne_server.url + path)
        page.wait_for_load_state("networkidle")
    # A quick action swaps the guest's card with its task's progress, then with its new state.
    page.goto(daphne_server.url + reverse("vms:guests") + "?view=cards")
    page.locator(f"#guest-{sim_server.pk}-102").get_by_role("button", name="Start").click()
    expect(page.locator(f"#guest-{sim_server.pk}-102 .status")).to_have_text("running", timeout=10000)
    page.goto(console_url(daphne_server, sim_server, RUNNING_VM))
    expect(page.locator("#console-status")).to_have_attribute("data-state", "connected", timeout=15000)
    page.goto(daphne_server.url + reverse("api-docs"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Proxmox VNC Nexus API", timeout=15000)
    page.goto(daphne_server.url + reverse("design"))
    page.wait_for_load_state("networkidle")
    assert refused == []
