"""Managing servers in headless Chromium: a tenant admin adds a server with trust on first use and sees it come
online, imports a CSV file after fixing its bad row, and reads /nodes in the API explorer; with screenshots of each
page (test-artifacts/screenshots/servers-*)."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from servers.pvesim import Simulator
from tests.e2e.test_design_browser import open_as, save_screenshots

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def spare_pve():
    """A simulated Proxmox server no tenant has yet, like the demo's fourth."""
    with Simulator(servers=1) as simulator:
        yield simulator.servers[0]


def policy_refusals(page) -> list[str]:
    """What the browser refuses under the Content-Security-Policy on this page, as it happens (must stay empty)."""
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else 0)
    return refused


@pytest.fixture
def first_check_at_once(settings):
    """The first health check runs as the server is saved (no Celery worker here)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def test_a_tenant_admin_adds_a_server_with_trust_on_first_use_and_sees_it_online(
    sim_server, admin_a, spare_pve, first_check_at_once, daphne_server, browser
):
    page = open_as(browser, daphne_server, admin_a)
    refused = policy_refusals(page)
    page.goto(f"{daphne_server.url}{reverse('servers:list')}")
    save_screenshots(page, "servers-list")
    page.get_by_role("link", name="Add server").first.click()
    page.fill("#id_name", "acme-spare")
    page.fill("#id_host", spare_pve.host)
    page.fill("#id_port", str(spare_pve.port))
    page.fill("#id_token_id", spare_pve.token_id)
    page.fill("#id_token_secret", spare_pve.token_secret)
    assert page.input_value("#id_tls_mode") == "fingerprint" and page.input_value("#id_fingerprint") == ""

    page.get_by_role("button", name="Test connection").click()
    steps = page.locator("[data-test-steps] tr")
    expect(steps).to_have_count(5)
    tls = page.locator('[data-test-steps] tr[data-step="tls"]')
    expect(tls).to_contain_text(f"The server presents {spare_pve.fingerprint}")
    expect(page.locator('[data-test-steps] tr[data-step="token"]')).to_contain_text("Not tried")
    save_screenshots(page, "servers-add-unpinned")

    tls.get_by_role("button", name="Use this fingerprint").click()  # and the test runs again
    expect(page.locator("#connection-test")).to_have_attribute("data-outcome", re.compile("^(ok|warning)$"))
    assert page.input_value("#id_fingerprint") == spare_pve.fingerprint
    expect(page.locator('[data-test-steps] tr[data-step="version"]')).to_contain_text("Proxmox VE 9.1.1, 3 nodes")
    save_screenshots(page, "servers-add-tested")

    page.get_by_role("button", name="Add server").click()
    expect(page.locator(".alert.success")).to_contain_text("Added acme-spare")
    row = page.locator("tr", has_text="acme-spare")
    expect(row.locator(".status")).to_have_text("Online")

    row.get_by_role("link", name="Edit").click()
    expect(page.locator("#certificate")).to_contain_text("matches the pin")  # loaded by htmx
    save_screenshots(page, "servers-edit")
    assert refused == []
    page.context.close()


def write_csv(path, pve, names, bad=""):
    settings = pve.connection_settings()
    lines = ["name;host;port;token_id;token_secret;fingerprint"]
    for name in names:
        host = "https://" + settings["host"] if name == bad else settings["host"]
        lines.append(
            f"{name};{host};{settings['port']};{settings['token_id']};{settings['token_secret']};{settings['fingerprint']}"
        )
    path.write_text("\ufeff" + "\r\n".join(lines) + "\r\n")
    return path


def test_a_csv_with_a_bad_row_is_previewed_fixed_and_imported(
    pve, manager_a, tenant_a, daphne_server, browser, tmp_path
):
    page = open_as(browser, daphne_server, manager_a)
    refused = policy_refusals(page)
    page.goto(f"{daphne_server.url}{reverse('servers:import')}")
    names = ["import-1", "import-2", "import-3"]
    page.set_input_files("#id_file", write_csv(tmp_path / "bad.csv", pve, names, bad="import-2"))
    page.get_by_role("button", name="Check file").click()
    bad_row = page.locator('tr[data-line="3"]')
    expect(bad_row).to_contain_text("invalid")
    expect(bad_row).to_contain_text("without a scheme")
    expect(page.locator('tr[data-line="2"]')).to_contain_text("Proxmox VE 9.1.1")  # its connection was tested
    expect(page.get_by_role("button", name=re.compile("^Import"))).to_have_count(0)
    save_screenshots(page, "servers-import-preview")

    page.set_input_files("#id_file", write_csv(tmp_path / "fixed.csv", pve, names))
    page.get_by_role("button", name="Check file").click()
    expect(page.locator("#preview")).to_contain_text("ready to import")
    page.get_by_role("button", name="Import 3 servers into Tenant A").click()
    expect(page.locator(".alert.success")).to_contain_text("Imported 3 servers")
    for name in names:
        expect(page.locator("main")).to_contain_text(name)
    assert refused == []
    page.context.close()


def test_the_explorer_reads_nodes(sim_server, manager_a, daphne_server, browser):
    page = open_as(browser, daphne_server, manager_a)
    refused = policy_refusals(page)
    page.goto(f"{daphne_server.url}{reverse('servers:explore', args=[sim_server.pk])}")
    tree = page.locator("#api-tree")
    page.fill("#tree-filter", "rrddata")
    expect(tree.get_by_role("link", name="rrddata").first).to_be_visible()
    expect(tree.get_by_role("link", name="/version")).to_be_hidden()
    page.fill("#tree-filter", "")
    expect(tree.get_by_role("link", name="/version")).to_be_visible()
    save_screenshots(page, "servers-explorer")

    tree.get_by_role("link", name="/nodes", exact=True).click()
    page.get_by_role("button", name="Read").click()
    table = page.locator("#panel-table table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).to_contain_text("pve1")
    save_screenshots(page, "servers-explorer-nodes")
    page.get_by_role("tab", name="JSON").click()
    expect(page.locator("#result-json")).to_contain_text('"node": "pve2"')
    assert refused == []
    page.context.close()
