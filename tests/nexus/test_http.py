"""The client address: the socket's peer unless the operator trusts proxies, and never anything but an address."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from audit.models import AuditEvent
from nexus.http import client_ip, forwarded_client, scope_client_ip
from tests.conftest import PASSWORD


@pytest.mark.parametrize(
    "peer, forwarded_for, proxies, expected",
    [
        ("203.0.113.5", "1.2.3.4", 0, "203.0.113.5"),  # no proxy trusted: the header is the client's own words
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", 1, "198.51.100.7"),  # the proxy appended what it saw
        ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.1", 2, "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7", 2, "198.51.100.7"),  # fewer hops than proxies: the leftmost one there is
        ("10.0.0.2", "", 1, "10.0.0.2"),
        ("10.0.0.2", "not-an-address", 1, None),
        ("10.0.0.2", "1.2.3.4, <script>", 1, None),
        ("2001:DB8::1", "", 0, "2001:db8::1"),
        (None, "", 0, None),
    ],
)
def test_the_client_is_as_many_hops_from_the_right_as_there_are_trusted_proxies(peer, forwarded_for, proxies, expected):
    assert forwarded_client(peer, forwarded_for, proxies) == expected


def test_requests_and_websockets_read_the_same_setting(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    scope = {"client": ["10.0.0.2", 5000], "headers": [(b"x-forwarded-for", b"1.2.3.4, 198.51.100.7")]}
    assert client_ip(request) == scope_client_ip(scope) == "198.51.100.7"


def test_a_forged_header_changes_nothing_without_a_trusted_proxy(client, manager_a):
    client.post(
        reverse("login"),
        {"username": "manager-a", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.5",
        HTTP_X_FORWARDED_FOR="1.2.3.4, 10.0.0.1",
    )
    assert AuditEvent.objects.get(action="login").ip_address == "203.0.113.5"


def test_a_header_that_is_no_address_is_never_stored_nor_a_500(client, manager_a, sim_server, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = client.post(
        reverse("login"), {"username": "manager-a", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="x' OR 1=1"
    )
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="login").ip_address is None
    response = client.post(reverse("api:guest-console", args=[sim_server.pk, 100]), HTTP_X_FORWARDED_FOR="evil")
    assert response.status_code == 201
    assert AuditEvent.objects.get(action="console requested").ip_address is None


def test_rotating_forged_addresses_do_not_escape_the_address_limit(client, viewer_a, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    for attempt in range(6):
        client.post(
            reverse("login"),
            {"username": f"name-{attempt}", "password": "wrong"},
            REMOTE_ADDR="203.0.113.5",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}",
        )
    response = client.post(reverse("login"), {"username": "viewer-a", "password": PASSWORD}, REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 429
