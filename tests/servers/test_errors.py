"""A server that must not or cannot be queried says so clearly, everywhere, and Proxmox is never asked."""

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse


@pytest.fixture
def disabled(sim_server, pve):
    pve.faults.http_500 = True  # were it queried, the answer would be a 502
    sim_server.is_active = False
    sim_server.save()
    return sim_server


@pytest.fixture
def keys_lost(sim_server, settings):
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return sim_server


@pytest.mark.parametrize(
    "server, status, code, words",
    [
        ("disabled", 409, "server_disabled", "is disabled"),
        ("keys_lost", 503, "credential_unreadable", "must enter it again"),
    ],
)
def test_the_api_refuses_with_a_reason_that_names_the_server(request, client, manager_a, server, status, code, words):
    server = request.getfixturevalue(server)
    client.force_login(manager_a)
    for method, url in [
        ("get", reverse("api:guest-list", args=[server.pk])),
        ("get", reverse("api:guest-detail", args=[server.pk, 100])),
        ("post", reverse("api:guest-console", args=[server.pk, 100])),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == status, (url, response.content)
        assert response.json()["code"] == code
        assert server.name in response.json()["detail"] and words in response.json()["detail"]


@pytest.mark.parametrize(
    "server, status, words", [("disabled", 409, "is disabled"), ("keys_lost", 503, "must enter it again")]
)
def test_the_pages_show_the_reason(request, client, manager_a, server, status, words):
    server = request.getfixturevalue(server)
    client.force_login(manager_a)
    page = client.get(reverse("vms:server", args=[server.pk]))
    assert page.status_code == 200 and words in page.content.decode()
    console = client.get(reverse("console:page", args=[server.pk, 100]))
    assert console.status_code == status and words in console.content.decode()


def test_the_server_list_still_shows_a_disabled_server(client, manager_a, disabled):
    client.force_login(manager_a)
    [listed] = client.get(reverse("api:server-list")).json()["results"]
    assert listed["is_active"] is False
