"""The portal home: a member sees their tenant's servers, and only theirs."""

from django.urls import reverse

from tests.conftest import PASSWORD


def test_login_page_and_portal(client, manager_a, server_a, server_b):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("portal:home")).status_code == 302
    client.post(reverse("login"), {"username": "manager-a", "password": PASSWORD})
    page = client.get(reverse("portal:home")).content.decode()
    assert "pve-a" in page and "pve-b" not in page
