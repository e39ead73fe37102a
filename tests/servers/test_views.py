"""The server pages: the tenant's servers with their health, add/edit/delete forms with a write-only secret, the
certificate to pin in one click, CSV import with its preview, and the API explorer."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from servers.models import ProxmoxServer
from tests.conftest import make_server

SECRET = "5f0c9b1e-0d2a-4c3e-9b8f-00c0ffee0001"


def page(client, user, url, **params):
    client.force_login(user)
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def form(server_settings: dict, **changes) -> dict:
    values = {
        "name": "pve-new",
        "is_active": "on",
        "host": server_settings["host"],
        "port": server_settings["port"],
        "connection_timeout": 5,
        "token_id": server_settings["token_id"],
        "token_secret": server_settings["token_secret"],
        "tls_mode": "fingerprint",
        "fingerprint": server_settings["fingerprint"],
        "ca_pem": "",
        "tailscale_hostname": "",
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


# ------------------------------------------------------------------------------------------------- the list


def test_the_list_shows_the_current_tenants_servers_with_their_health(client, manager_a, sim_server, server_b):
    sim_server.connection_status, sim_server.avg_response_time_ms, sim_server.success_rate = "online", 42, 99.5
    sim_server.save()
    make_server(sim_server.tenant, "asleep", is_active=False, health_check_error="stale")
    html = page(client, manager_a, reverse("servers:list"))
    assert "Servers of Tenant A" in html and "pve-sim" in html and "pve-b" not in html
    assert '<span class="status online">Online</span>' in html and "42 ms" in html and "99.5%" in html
    assert '<span class="badge warning">inactive</span>' in html and "Not queried" in html and "stale" not in html
    assert reverse("servers:explore", args=[sim_server.pk]) in html


def test_the_list_follows_the_tenant_in_the_address(client, platform_admin, sim_server, server_b):
    html = page(client, platform_admin, reverse("servers:list"), tenant="tenant-b")
    assert "Servers of Tenant B" in html and "pve-b" in html and "pve-sim" not in html


def test_the_navigation_offers_the_page_to_those_who_manage_servers(client, manager_a, viewer_a, server_a):
    link = f'href="{reverse("servers:list")}"'
    assert link in page(client, manager_a, reverse("portal:home"))
    assert link not in page(client, viewer_a, reverse("portal:home"))


# ------------------------------------------------------------------------------------------ add, edit, delete


def test_a_manager_adds_a_server(client, manager_a, tenant_a, pve):
    client.force_login(manager_a)
    response = client.post(reverse("servers:add"), form(pve.connection_settings()))
    assert response.status_code == 302 and response["Location"] == f"{reverse('servers:list')}?tenant=tenant-a"
    server = ProxmoxServer.objects.get(name="pve-new")
    assert server.tenant == tenant_a and server.token_secret == pve.token_secret


def test_the_add_form_says_what_is_wrong_without_echoing_the_secret(client, manager_a, pve, server_a):
    client.force_login(manager_a)
    bad = form(pve.connection_settings(), name="pve-a", host="https://pve", token_secret="bad secret")
    html = client.post(reverse("servers:add"), bad).content.decode()
    assert "without a scheme" in html and "spaces or line breaks" in html
    assert "bad secret" not in html and pve.token_secret not in html
    html = client.post(reverse("servers:add"), form(pve.connection_settings(), name="pve-a")).content.decode()
    assert "Tenant A already has a server named pve-a." in html
    assert ProxmoxServer.objects.count() == 1


def test_a_platform_admin_chooses_the_tenant(client, platform_admin, tenant_a, tenant_b, pve):
    client.force_login(platform_admin)
    html = client.get(reverse("servers:add")).content.decode()
    assert 'name="tenant"' in html and 'value="tenant-b"' in html
    client.post(reverse("servers:add"), form(pve.connection_settings(), tenant="tenant-b"))
    assert ProxmoxServer.objects.get(name="pve-new").tenant == tenant_b


def test_the_edit_form_never_shows_the_secret_and_keeps_it_when_left_empty(client, admin_a, sim_server, pve):
    html = page(client, admin_a, reverse("servers:edit", args=[sim_server.pk]))
    assert pve.token_secret not in html and sim_server.token_secret_encrypted not in html
    assert f'data-connection-test="{reverse("api:server-connection-test", args=[sim_server.pk])}"' in html
    response = client.post(
        reverse("servers:edit", args=[sim_server.pk]), form(pve.connection_settings(), name="renamed", token_secret="")
    )
    assert response.status_code == 302
    sim_server.refresh_from_db()
    assert sim_server.name == "renamed" and sim_server.token_secret == pve.token_secret


def test_deleting_asks_first_and_says_what_goes_with_it(client, admin_a, sim_server):
    html = page(client, admin_a, reverse("servers:edit", args=[sim_server.pk]))
    delete_form = html[html.index(reverse("servers:delete", args=[sim_server.pk])) :]
    assert "data-confirm=" in delete_form and "open console sessions end" in delete_form
    assert "metrics are deleted" in delete_form
    response = client.post(reverse("servers:delete", args=[sim_server.pk]))
    assert response.status_code == 302 and not ProxmoxServer.objects.exists()


# ----------------------------------------------------------------------------------------------- certificate


def test_the_certificate_shows_what_the_server_presents_and_pins_it_in_one_click(client, manager_a, sim_server, pve):
    pve.rotate_certificate()
    client.force_login(manager_a)
    url = reverse("servers:certificate", args=[sim_server.pk])
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "differs from the pin" in fragment
    presented = re.search(r'name="fingerprint" value="([0-9A-F:]+)"', fragment).group(1)
    assert presented != sim_server.fingerprint
    assert "data-confirm=" in fragment and "Trust and pin" in fragment
    sim_server.refresh_from_db()
    assert sim_server.fingerprint != presented  # looking pins nothing
    response = client.post(url, {"fingerprint": presented})
    assert response.status_code == 302
    sim_server.refresh_from_db()
    assert sim_server.fingerprint == presented and sim_server.tls_mode == "fingerprint"
    assert "matches the pin" in client.get(url).content.decode()


def test_an_unreachable_server_says_why_it_shows_no_certificate(client, manager_a, tenant_a):
    server = make_server(tenant_a, "gone", host="127.0.0.1", port=9)
    html = page(client, manager_a, reverse("servers:certificate", args=[server.pk]))
    assert "Cannot connect to 127.0.0.1:9" in html and "Trust and pin" not in html


# ---------------------------------------------------------------------------------------------------- import


def csv_upload(pve, *names, bad_line_name=None) -> SimpleUploadedFile:
    settings = pve.connection_settings()
    lines = ["name,host,port,token_id,token_secret,fingerprint"]
    for name in names:
        host = "https://bad" if name == bad_line_name else settings["host"]
        lines.append(
            f"{name},{host},{settings['port']},{settings['token_id']},{settings['token_secret']},"
            f"{settings['fingerprint']}"
        )
    return SimpleUploadedFile("servers.csv", "\n".join(lines).encode(), content_type="text/csv")


def test_the_import_page_previews_fixes_and_imports(client, manager_a, tenant_a, pve):
    client.force_login(manager_a)
    url = reverse("servers:import")
    html = client.post(url, {"file": csv_upload(pve, "one", "two", bad_line_name="two")}).content.decode()
    assert '<tr data-line="3">' in html and "without a scheme" in html and "1 row to fix" in html
    assert 'name="sealed"' not in html and pve.token_secret not in html
    html = client.post(url, {"file": csv_upload(pve, "one", "two"), "probe": "on"}).content.decode()
    assert "ready to import" in html and "Proxmox VE 9.1.1" in html
    sealed = re.search(r'name="sealed" value="([^"]+)"', html).group(1)
    assert pve.token_secret not in html
    response = client.post(url, {"sealed": sealed})
    assert response.status_code == 302
    assert sorted(ProxmoxServer.objects.values_list("name", flat=True)) == ["one", "two"]


def test_a_checked_file_is_only_imported_by_who_checked_it(client, manager_a, admin_a, tenant_a, pve):
    client.force_login(manager_a)
    html = client.post(reverse("servers:import"), {"file": csv_upload(pve, "one")}).content.decode()
    sealed = re.search(r'name="sealed" value="([^"]+)"', html).group(1)
    client.force_login(admin_a)
    html = client.post(reverse("servers:import"), {"sealed": sealed}).content.decode()
    assert "has expired; upload it again" in html and not ProxmoxServer.objects.exists()
    html = client.post(reverse("servers:import"), {"sealed": "forged"}).content.decode()
    assert "has expired" in html


def test_a_file_that_cannot_be_read_is_explained(client, manager_a):
    client.force_login(manager_a)
    upload = SimpleUploadedFile("servers.csv", b"colour,size\nred,big\n", content_type="text/csv")
    html = client.post(reverse("servers:import"), {"file": upload}).content.decode()
    assert "Unknown columns" in html and "The file was not imported" in html


def test_the_template_csv_downloads(client, manager_a):
    client.force_login(manager_a)
    response = client.get(reverse("servers:import-template"))
    assert response["Content-Disposition"] == 'attachment; filename="servers.csv"'
    assert response.content.decode().startswith("name,host,port,token_id,token_secret,tls_mode")


# -------------------------------------------------------------------------------------------------- explorer


def test_the_explorer_shows_the_tree_and_asks_for_a_path(client, manager_a, sim_server):
    html = page(client, manager_a, reverse("servers:explore", args=[sim_server.pk]))
    assert 'id="api-tree"' in html and 'data-tree-filter="#api-tree"' in html
    assert "?template=/nodes" in html and "Choose a path" in html
    assert "file-read" not in html and "acme/plugins" not in html
    assert '<span class="badge">admins</span>' in html  # node logs, for tenant admins


def test_path_parameters_come_from_the_servers_real_guests_and_nodes(client, manager_a, sim_server):
    url = reverse("servers:explore", args=[sim_server.pk])
    html = page(client, manager_a, url, template="/nodes/{node}/lxc/{vmid}/status/current")
    assert '<option value="pve2/200">dns-ct (200) on pve2</option>' in html
    assert "web-01" not in html  # QEMU guests do not fit an LXC path
    html = page(client, manager_a, url, template="/nodes/{node}/qemu")
    assert '<option value="pve1">pve1</option>' in html
    html = page(client, manager_a, url, template="/cluster/resources")
    assert '<option value="vm">vm</option>' in html  # the schema's enum


def test_a_list_reads_as_a_table_and_anything_else_as_json(client, manager_a, sim_server):
    url = reverse("servers:explore", args=[sim_server.pk])
    html = page(client, manager_a, url, template="/nodes", read="1")
    assert 'role="tablist"' in html and '<th scope="col">node</th>' in html and "3 items" in html
    html = page(client, manager_a, url, template="/nodes/{node}/qemu/{vmid}/status/current", guest="pve1/100", read="1")
    assert "GET /nodes/pve1/qemu/100/status/current" in html and '<pre class="code" id="result-json">' in html
    assert "&quot;vmid&quot;: 100" in html and 'role="tablist"' not in html
    assert AuditEvent.objects.filter(action="proxmox api read", outcome="success").count() == 2


def test_a_refused_read_says_why_on_the_page(client, manager_a, sim_server):
    url = reverse("servers:explore", args=[sim_server.pk])
    html = page(client, manager_a, url, template="/nodes/{node}/syslog", node="pve1", read="1")
    assert "only tenant admins read them" in html
    html = page(client, manager_a, url, template="/nodes/{node}/qemu/{vmid}/rrddata", guest="pve1/100", read="1")
    assert "needs the parameter timeframe" in html


@pytest.mark.parametrize("template", ["/nodes/{node}/qemu/{vmid}/agent/file-read", "/no/such/path"])
def test_paths_outside_the_tree_are_not_offered(client, manager_a, sim_server, template):
    html = page(client, manager_a, reverse("servers:explore", args=[sim_server.pk]), template=template, read="1")
    assert "Choose a path" in html and not AuditEvent.objects.filter(action="proxmox api read").exists()
