"""Guests come live from Proxmox: hostile or broken answers become clear errors, never a crash or a leak."""

import contextlib
import signal
import time

import pytest
import responses
from django.urls import reverse

from tests.conftest import make_server

RESOURCES = "https://pve.example.com:8006/api2/json/cluster/resources"


@pytest.fixture
def server(tenant_a):
    return make_server(tenant_a, "pve-mocked", host="pve.example.com", tls_mode="system", fingerprint="")


def guests(client, user, server):
    client.force_login(user)
    return client.get(reverse("api:guest-list", args=[server.pk]))


@responses.activate
def test_guests_are_listed_in_vmid_order_with_tags(client, manager_a, server):
    responses.get(
        RESOURCES,
        json={
            "data": [
                {"id": "lxc/200", "vmid": 200, "node": "pve2", "type": "lxc", "status": "running", "tags": "a;b"},
                {"id": "qemu/100", "vmid": 100, "node": "pve1", "type": "qemu", "status": "stopped", "name": "web"},
                {"id": "storage/pve1/local", "type": "storage", "node": "pve1"},
            ]
        },
    )
    body = guests(client, manager_a, server).json()
    assert [(g["vmid"], g["name"], g["tags"]) for g in body] == [(100, "web", []), (200, "lxc-200", ["a", "b"])]


@responses.activate
def test_a_guest_without_identity_is_a_clear_upstream_error(client, manager_a, server):
    responses.get(RESOURCES, json={"data": [{"type": "qemu", "node": "pve1"}]})
    response = guests(client, manager_a, server)
    assert response.status_code == 502
    assert response.json()["detail"] == "Proxmox listed a guest without vmid, node or type."


@responses.activate
def test_a_non_json_answer_is_a_clear_upstream_error(client, manager_a, server):
    responses.get(RESOURCES, body="<html>proxy error</html>", status=200)
    response = guests(client, manager_a, server)
    assert response.status_code == 502
    assert response.json()["code"] == "proxmox_proxmoxapierror"
    assert "JSON" in response.json()["detail"]


@responses.activate
def test_a_refused_token_says_so_without_the_secret(client, manager_a, server):
    responses.get(RESOURCES, status=401)
    response = guests(client, manager_a, server)
    assert response.status_code == 502
    assert response.json()["code"] == "proxmox_authenticationfailed"
    assert server.token_secret not in response.content.decode()


def test_a_guest_that_does_not_exist_is_404(client, manager_a, sim_server):
    client.force_login(manager_a)
    response = client.get(reverse("api:guest-detail", args=[sim_server.pk, 4242]))
    assert response.status_code == 404
    assert response.json() == {"detail": "pve-sim has no guest 4242.", "code": "guest_not_found"}


def test_a_console_for_a_stopped_guest_is_refused_with_the_reason(client, manager_a, sim_server):
    client.force_login(manager_a)
    response = client.post(reverse("api:guest-console", args=[sim_server.pk, 102]))
    assert response.status_code == 409
    assert response.json() == {"detail": "db-01 is not running.", "code": "guest_not_running"}


def test_a_tenant_without_consoles_refuses_them(client, manager_a, sim_server, tenant_a):
    tenant_a.console_enabled = False
    tenant_a.save()
    client.force_login(manager_a)
    response = client.post(reverse("api:guest-console", args=[sim_server.pk, 100]))
    assert response.status_code == 403
    assert response.json()["code"] == "console_disabled"


@contextlib.contextmanager
def fails_after(seconds: int):
    """Interrupts the test (in the main thread, even in a blocked read) when it runs longer than `seconds`."""

    def expire(signum, frame):
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_proxmox_that_trickles_its_answer_is_a_504_within_the_server_timeout(client, manager_a, sim_server, pve):
    sim_server.connection_timeout = 1
    sim_server.save()
    pve.faults.trickle = 0.2  # a byte every 0.2 s: no single read ever times out
    client.force_login(manager_a)
    started = time.monotonic()
    with fails_after(10):
        response = client.get(reverse("api:guest-list", args=[sim_server.pk]))
    assert response.status_code == 504
    assert response.json()["code"] == "proxmox_timedout"
    assert time.monotonic() - started < 2.5
