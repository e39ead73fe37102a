"""The console page: who may open it, what it shows, and that it never carries a console token."""

import json
import re
from html import unescape

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from console.models import ConsoleSession
from console.relay import CloseReason
from tests.conftest import make_server

RUNNING_VM = 100  # web-01 in servers/pvesim/default.toml


def page_url(server, vmid=RUNNING_VM):
    return reverse("console:page", args=[server.pk, vmid])


def test_it_requires_login(client, server_a):
    response = client.get(page_url(server_a))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("user", ["outsider", "admin_b"])
def test_it_is_404_for_users_who_cannot_see_the_server(client, server_a, user, request):
    client.force_login(request.getfixturevalue(user))
    assert client.get(page_url(server_a)).status_code == 404


def test_it_is_404_for_a_server_that_does_not_exist(client, admin_a):
    client.force_login(admin_a)
    assert client.get(reverse("console:page", args=[999999, RUNNING_VM])).status_code == 404


def test_it_is_403_for_a_viewer(client, server_a, viewer_a):
    client.force_login(viewer_a)
    response = client.get(page_url(server_a))
    assert response.status_code == 403
    assert b"not open its console" in response.content


def test_it_shows_the_guest_to_a_manager(client, sim_server, manager_a):
    client.force_login(manager_a)
    response = client.get(page_url(sim_server))
    assert response.status_code == 200
    html = response.content.decode()
    assert "web-01" in html
    assert "pve-sim" in html
    assert "running" in html
    assert 'type="module"' in html
    assert reverse("api:guest-console", args=[sim_server.pk, RUNNING_VM]) in html


def test_the_page_gets_the_close_codes_from_the_relay(client, sim_server, manager_a):
    client.force_login(manager_a)
    page = client.get(page_url(sim_server)).content.decode()
    close_codes = json.loads(unescape(re.search(r'data-close-codes="([^"]*)"', page)[1]))
    assert close_codes == {reason.name: {"code": reason.code, "final": reason.final} for reason in CloseReason}
    assert close_codes["TERMINATED"] == {"code": 4410, "final": True}
    assert close_codes["UPSTREAM_CLOSED"] == {"code": 4501, "final": False}
    # Stop rather than reconnect: login refused, forbidden, not running, idle, too long, ended by an administrator,
    # access withdrawn.
    assert {reason["code"] for reason in close_codes.values() if reason["final"]} == {
        4001,
        4003,
        4004,
        4408,
        4409,
        4410,
        4411,
    }


def test_the_page_carries_no_token_or_ticket(client, sim_server, manager_a, pve):
    client.force_login(manager_a)
    html = client.get(page_url(sim_server)).content.decode()
    assert "PVEVNC" not in html
    assert pve.token_secret not in html
    assert not ConsoleSession.objects.exists(), "tokens are handed out by the API, one per connection"


def test_it_says_when_the_guest_does_not_exist(client, sim_server, manager_a):
    client.force_login(manager_a)
    response = client.get(page_url(sim_server, vmid=4242))
    assert response.status_code == 404
    assert b"has no guest 4242" in response.content


def test_it_shows_the_proxmox_error(client, sim_server, manager_a, pve):
    pve.faults.http_500 = True
    client.force_login(manager_a)
    response = client.get(page_url(sim_server))
    assert response.status_code == 502
    assert b"Proxmox did not answer as expected" in response.content


def test_a_single_server_grant_is_enough(client, tenant_b, outsider, pve):
    server = make_server(
        tenant_b, "granted", host=pve.host, port=pve.port, token_id=pve.token_id, fingerprint=pve.fingerprint
    )
    server.token_secret = pve.token_secret
    server.save()
    assign_perm("servers.open_console", outsider, server)
    client.force_login(outsider)
    assert client.get(page_url(server)).status_code == 200


def test_a_stopped_guest_offers_start_to_who_may_start_it(client, sim_server, manager_a, tenant_a):
    client.force_login(manager_a)
    html = client.get(page_url(sim_server, 102)).content.decode()
    assert 'data-guest-status="stopped"' in html
    assert f'data-power-api="{reverse("api:guest-power", args=[sim_server.pk, 102])}"' in html
    tenant_a.allowed_power_actions = ["shutdown"]
    tenant_a.save()
    assert "data-power-api" not in client.get(page_url(sim_server, 102)).content.decode()
