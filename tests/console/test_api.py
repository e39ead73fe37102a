"""The console token endpoint: rate limited per user, so a loop cannot burn Proxmox tickets and session records."""

import hashlib

from django.urls import reverse

from console.models import ConsoleSession
from vms.services import guest_grant_set


def test_console_requests_are_limited_per_user(client, manager_a, admin_a, sim_server, settings):
    settings.CONSOLE_REQUEST_RATE = "3/min"
    url = reverse("api:guest-console", args=[sim_server.pk, 100])
    client.force_login(manager_a)
    statuses = [client.post(url).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    refused = client.post(url)
    assert refused.json()["code"] == "throttled" and int(refused["Retry-After"]) > 0
    assert ConsoleSession.objects.filter(user=manager_a).count() == 3
    client.force_login(admin_a)
    assert client.post(url).status_code == 201, "another user has a limit of their own"


def test_a_single_guest_holder_gets_a_token_for_that_guest_and_404_for_others(client, outsider, sim_server):
    guest_grant_set(user=outsider, server=sim_server, vmid=100, console=True)
    client.force_login(outsider)
    assert client.post(reverse("api:guest-console", args=[sim_server.pk, 100])).status_code == 201
    assert client.post(reverse("api:guest-console", args=[sim_server.pk, 101])).status_code == 404


def test_the_answer_carries_the_token_in_a_subprotocol_and_the_console_urls_fragment(client, manager_a, sim_server):
    client.force_login(manager_a)
    answer = client.post(reverse("api:guest-console", args=[sim_server.pk, 100])).json()
    binary, token_protocol = answer["websocket_protocols"]
    token = token_protocol.removeprefix("console-token.")
    assert (binary, answer["websocket_path"]) == ("binary", "/ws/console/"), "no token in any URL path"
    page = reverse("console:page", args=[sim_server.pk, 100])
    assert answer["console_url"] == f"{page}#token={token}", "the page opens with this very token"
    assert ConsoleSession.objects.get(pk=answer["session"]).token_hash == hashlib.sha256(token.encode()).hexdigest()
