"""servers/test/ and servers/{id}/test/: the connection test step by step, of settings not saved yet and of stored
ones, against simulated healthy, wrong-token, wrong-fingerprint, unpinned, slow, hanging and unreachable servers; and
servers/{id}/fingerprint/, trust on first use that pins only what the user confirmed."""

import json
import socket

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.urls import reverse

from servers.models import ProxmoxServer
from tests.servers.proxmox.conftest import free_port

OTHER_FINGERPRINT = ":".join(["AB"] * 32)
WRONG_SECRET = "0e2f3c4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def settings_of(pve, **changes) -> dict:
    return {**pve.connection_settings(), "connection_timeout": 2, **changes}


def run_test(client, body, **headers):
    return client.post(reverse("api:server-test"), body, content_type="application/json", **headers)


def outcomes(answer) -> list[str]:
    return [step["outcome"] for step in answer["steps"]]


def test_unsaved_settings_are_tested_step_by_step_and_nothing_is_saved(client, manager_a, pve):
    client.force_login(manager_a)
    response = run_test(client, settings_of(pve))
    assert response.status_code == 200, response.content
    answer = response.json()
    assert [step["step"] for step in answer["steps"]] == ["connect", "tls", "token", "version", "privileges"]
    assert outcomes(answer) == ["ok", "ok", "ok", "ok", "warning"]  # the simulator's token may do everything
    assert answer["outcome"] == "warning" and answer["response_time_ms"] == answer["steps"][2]["elapsed_ms"]
    assert answer["steps"][1]["details"]["fingerprint"] == pve.fingerprint
    assert all(isinstance(step["elapsed_ms"], int) for step in answer["steps"])
    assert pve.token_secret not in response.content.decode()
    assert not ProxmoxServer.objects.exists()


def test_without_a_pin_the_presented_fingerprint_comes_back_and_nothing_is_pinned(client, manager_a, pve):
    client.force_login(manager_a)
    answer = run_test(client, settings_of(pve, fingerprint="")).json()
    assert outcomes(answer) == ["ok", "failed", "skipped", "skipped", "skipped"]
    tls = answer["steps"][1]
    assert tls["details"]["fingerprint"] == pve.fingerprint and tls["details"]["matches_pin"] is None
    assert "only ever sent to a server whose TLS identity was verified" in answer["steps"][2]["message"]
    assert not ProxmoxServer.objects.exists()


@pytest.mark.parametrize(
    "changes, expected, step, words",
    [
        ({"token_secret": WRONG_SECRET}, ["ok", "ok", "failed", "skipped", "skipped"], 2, "refused the API token"),
        ({"fingerprint": OTHER_FINGERPRINT}, ["ok", "failed", "skipped", "skipped", "skipped"], 1, "does not match"),
        ({"port": "a free one"}, ["failed", "skipped", "skipped", "skipped", "skipped"], 0, "onnection refused"),
        ({"host": "no-such-host.invalid"}, ["failed"] + ["skipped"] * 4, 0, "Cannot resolve"),
    ],
)
def test_failing_settings_say_where_and_why(client, manager_a, pve, changes, expected, step, words):
    if changes.get("port"):
        changes = {"port": free_port()}  # taken now, not when the tests were collected
    client.force_login(manager_a)
    answer = run_test(client, settings_of(pve, **changes)).json()
    assert outcomes(answer) == expected
    assert words in answer["steps"][step]["message"]
    assert answer["outcome"] == "failed" and answer["response_time_ms"] is None


def test_a_slow_server_passes_with_its_response_time(client, manager_a, pve):
    pve.faults.latency = 0.3
    client.force_login(manager_a)
    answer = run_test(client, settings_of(pve)).json()
    assert answer["steps"][2]["outcome"] == "ok" and answer["response_time_ms"] >= 300


def test_a_hanging_server_fails_within_its_timeout(client, manager_a, pve):
    pve.faults.hang = True
    client.force_login(manager_a)
    answer = run_test(client, settings_of(pve, connection_timeout=1)).json()
    assert outcomes(answer) == ["ok", "ok", "failed", "skipped", "skipped"]
    assert "did not answer completely within 1 s" in answer["steps"][2]["message"]


def test_a_server_that_accepts_and_never_speaks_fails_at_tls(client, manager_a, pve):
    client.force_login(manager_a)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        answer = run_test(client, settings_of(pve, port=silent.getsockname()[1], connection_timeout=1)).json()
    assert outcomes(answer) == ["ok", "failed", "skipped", "skipped", "skipped"]


def test_settings_that_are_not_valid_are_refused_before_any_step(client, manager_a, pve):
    client.force_login(manager_a)
    response = run_test(client, settings_of(pve, host="https://pve", token_secret="with space"))
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"host", "token_secret"}


@pytest.mark.django_db(transaction=True)
async def test_the_steps_stream_as_they_complete_when_asked_for(async_client, manager_a, pve):
    await async_client.aforce_login(manager_a)
    response = await async_client.post(
        reverse("api:server-test"), settings_of(pve), content_type="application/json", accept="application/x-ndjson"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    chunks = [chunk async for chunk in response.streaming_content]
    await sync_to_async(connections.close_all)()
    lines = [json.loads(chunk) for chunk in chunks]  # a chunk per step, each as it completed
    assert [line.get("step") for line in lines[:-1]] == ["connect", "tls", "token", "version", "privileges"]
    assert lines[-1] == {"result": {"outcome": "warning", "response_time_ms": lines[2]["elapsed_ms"]}}


def test_an_error_is_an_answer_even_when_a_stream_was_asked_for(client, manager_a, pve):
    client.force_login(manager_a)
    response = run_test(client, settings_of(pve, host="https://pve"), HTTP_ACCEPT="application/x-ndjson")
    assert response.status_code == 400 and "host" in json.loads(response.content)["errors"]


# ---------------------------------------------------------------------------------------------- stored server


def connection_test_url(server):
    return reverse("api:server-connection-test", args=[server.pk])


def test_a_stored_server_is_tested_with_its_stored_settings(client, admin_a, sim_server):
    client.force_login(admin_a)
    answer = client.post(connection_test_url(sim_server)).json()
    assert outcomes(answer)[:4] == ["ok", "ok", "ok", "ok"]


def test_changes_not_saved_yet_are_tested_with_the_stored_secret(client, admin_a, sim_server, pve):
    client.force_login(admin_a)
    body = {"fingerprint": OTHER_FINGERPRINT, "token_secret": ""}
    answer = client.post(connection_test_url(sim_server), body, content_type="application/json").json()
    assert answer["steps"][1]["outcome"] == "failed"  # the changed pin was tested
    body = {"port": sim_server.port}
    answer = client.post(connection_test_url(sim_server), body, content_type="application/json").json()
    assert answer["steps"][2]["outcome"] == "ok"  # with the stored secret
    sim_server.refresh_from_db()
    assert sim_server.fingerprint == pve.fingerprint  # nothing saved


def test_an_inactive_server_is_not_tested(client, admin_a, sim_server):
    sim_server.is_active = False
    sim_server.save()
    client.force_login(admin_a)
    response = client.post(connection_test_url(sim_server))
    assert response.status_code == 409 and response.json()["code"] == "server_disabled"


def test_a_host_name_that_resolves_into_a_denied_range_is_refused(client, admin_a, sim_server, settings):
    sim_server.host = "localhost"
    sim_server.save()
    settings.SERVER_DENIED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    client.force_login(admin_a)
    answer = client.post(connection_test_url(sim_server)).json()
    assert answer["steps"][0]["outcome"] == "failed"
    assert "where servers may not be reached" in answer["steps"][0]["message"]


# -------------------------------------------------------------------------------------- trust on first use


def fingerprint_url(server):
    return reverse("api:server-fingerprint", args=[server.pk])


def test_the_presented_fingerprint_is_shown_beside_the_pin(client, manager_a, sim_server, pve):
    client.force_login(manager_a)
    assert client.get(fingerprint_url(sim_server)).json() == {
        "fingerprint": pve.fingerprint,
        "pinned": pve.fingerprint,
        "matches_pin": True,
    }
    pve.rotate_certificate()
    answer = client.get(fingerprint_url(sim_server)).json()
    assert answer["matches_pin"] is False and answer["fingerprint"] != pve.connection_settings()["fingerprint"][:0]
    sim_server.refresh_from_db()
    assert sim_server.fingerprint == answer["pinned"]  # never pinned by looking


def test_the_fingerprint_the_user_confirms_is_pinned(client, manager_a, sim_server, pve):
    pve.rotate_certificate()
    sim_server.tls_mode, sim_server.fingerprint = "system", ""
    sim_server.save()
    client.force_login(manager_a)
    presented = client.get(fingerprint_url(sim_server)).json()
    assert presented["pinned"] == "" and presented["matches_pin"] is None
    response = client.post(fingerprint_url(sim_server), {"fingerprint": presented["fingerprint"].lower()})
    assert response.status_code == 200
    assert response.json()["tls_mode"] == "fingerprint" and response.json()["fingerprint"] == presented["fingerprint"]
    assert client.get(fingerprint_url(sim_server)).json()["matches_pin"] is True


def test_a_fingerprint_of_the_wrong_form_is_not_pinned(client, manager_a, sim_server):
    client.force_login(manager_a)
    response = client.post(fingerprint_url(sim_server), {"fingerprint": "AB:CD"})
    assert response.status_code == 400 and "SHA-256" in response.json()["errors"]["fingerprint"][0]


def test_an_unreachable_server_presents_nothing(client, manager_a, tenant_a):
    server = ProxmoxServer(tenant=tenant_a, name="gone", host="127.0.0.1", port=free_port(), token_id="a@pve!bb")
    server.token_secret = "s"
    server.fingerprint = OTHER_FINGERPRINT
    server.save()
    client.force_login(manager_a)
    response = client.get(fingerprint_url(server))
    assert response.status_code == 502 and "onnection refused" in response.json()["detail"]
