"""A tenant admin invites a person, who sets a password through the printed link, logs in and sees the tenant;
removed while their console is open, the console says their access was withdrawn."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.test_console_browser import RUNNING_VM, console_url, log_in

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a password of her own 93"


def test_an_invited_person_works_until_removed(settings, capfd, sim_server, admin_a, daphne_server, browser):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # as the demo: the mail is printed
    admin = log_in(browser, daphne_server, admin_a)
    admin.goto(f"{daphne_server.url}{reverse('tenants:members', args=[sim_server.tenant.slug])}")
    admin.fill("#id_user", "jo@example.com")
    admin.select_option("#id_role", "manager")
    admin.click("button:has-text('Add member')")
    expect(admin.locator("main .message.success")).to_contain_text("Invited jo@example.com (user name jo)")
    row = admin.locator("tr", has_text="jo@example.com")
    expect(row).to_contain_text("invited")

    link = re.search(r"http://\S+/accounts/reset/\S+", capfd.readouterr().out)[0]
    person = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    person.goto(link.replace("http://testserver", daphne_server.url))
    expect(person.locator("h1")).to_have_text("Choose a password")
    person.fill("#id_new_password1", NEW_PASSWORD)
    person.fill("#id_new_password2", NEW_PASSWORD)
    person.click("button[type=submit]")
    expect(person.locator("h1")).to_have_text("Your password is set")

    person.get_by_role("link", name="Log in").click()
    person.fill("#id_username", "jo")
    person.fill("#id_password", NEW_PASSWORD)
    person.click("button[type=submit]")
    person.wait_for_url(f"{daphne_server.url}/")
    expect(person.locator("main")).to_contain_text("Tenant A")
    expect(person.locator("main")).to_contain_text(sim_server.name)

    person.goto(console_url(daphne_server, sim_server, RUNNING_VM))
    status = person.locator("#console-status")
    expect(status).to_have_attribute("data-state", "connected", timeout=10_000)

    admin.reload()
    row.get_by_role("button", name="Remove").click()
    admin.locator("[data-confirm-accept]").click()
    expect(admin.locator("main .message.success")).to_contain_text("Removed jo from Tenant A.")

    expect(status).to_have_attribute("data-state", "ended")
    expect(status).to_contain_text("Your access was withdrawn")
