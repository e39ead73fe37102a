"""A passkey enrolled in Chromium's virtual authenticator (the DevTools WebAuthn domain) logs its owner in alone."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def virtual_authenticator(page) -> None:
    """A platform authenticator that keeps its credentials (a passkey) and says yes at once, for this page."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    devtools.send("WebAuthn.addVirtualAuthenticator", {"options": options})


def test_a_passkey_is_enrolled_and_then_logs_in_without_a_password(viewer_a, daphne_server, browser):
    # WebAuthn wants a host name for the relying party, not an address: the same server as "localhost".
    base = daphne_server.url.replace("127.0.0.1", "localhost")
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    virtual_authenticator(page)
    page.goto(f"{base}{reverse('login')}")
    page.fill("#id_username", viewer_a.get_username())
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.locator("summary", has_text=viewer_a.get_username()).click()
    page.get_by_role("link", name="Two-factor authentication").click()
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("main table")).to_contain_text("Passkey or security key")

    page.locator("summary", has_text=viewer_a.get_username()).click()
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{base}{reverse('login')}")
    page.get_by_role("button", name="Log in with a passkey").click()
    page.wait_for_url(f"{base}/")
    page.locator("summary", has_text=viewer_a.get_username()).click()
    expect(page.locator(".menu-label")).to_contain_text(f"Signed in as {viewer_a.get_username()}")
