"""POST /api/v1/servers/{id}/vms/{vmid}/power/: 202 with Proxmox's task, or 403 and 409 with the reason; audited."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from servers.proxmox import parse_upid
from tests.conftest import make_user
from vms.services import guest_grant_set

TASK_TYPES = {"start": "qmstart", "shutdown": "qmshutdown", "reboot": "qmreboot", "suspend": "qmsuspend"}


def power(client, user, server, vmid, action):
    client.force_login(user)
    return client.post(
        reverse("api:guest-power", args=[server.pk, vmid]), {"action": action}, content_type="application/json"
    )


def last_audit():
    return AuditEvent.objects.filter(action="guest power").latest("created_at")


@pytest.mark.parametrize(
    "vmid, action, status_after",
    [
        (102, "start", "running"),
        (100, "shutdown", "stopped"),
        (100, "stop", "stopped"),
        (100, "reboot", "running"),
        (100, "reset", "running"),
        (100, "suspend", "running"),
        (100, "resume", "running"),
        (200, "shutdown", "stopped"),
        (201, "start", "running"),
    ],
)
def test_each_action_answers_202_with_the_task_and_changes_the_guest(
    client, manager_a, sim_server, pve, vmid, action, status_after
):
    response = power(client, manager_a, sim_server, vmid, action)
    assert response.status_code == 202, response.content
    body = response.json()
    upid = parse_upid(body["upid"])
    assert upid.vmid == vmid and upid.type.endswith(action)
    assert body["task_url"] == reverse("api:task-detail", args=[sim_server.pk, body["upid"]])
    assert body["server"] == {"id": sim_server.pk, "name": "pve-sim"} and body["action"] == action
    assert pve.guest(vmid).status == status_after
    event = last_audit()
    assert (event.actor, event.tenant, event.outcome) == (manager_a, sim_server.tenant, "success")
    assert event.details["upid"] == body["upid"] and event.details["action"] == action
    assert event.target == f"pve-sim/{vmid}"


def test_suspend_pauses_the_vm(client, manager_a, sim_server, pve):
    assert power(client, manager_a, sim_server, 100, "suspend").status_code == 202
    assert pve.guest(100).paused


def test_a_power_action_is_seen_by_the_next_listing_at_once(client, manager_a, sim_server):
    client.force_login(manager_a)
    client.get(reverse("api:guests"))  # now cached
    assert power(client, manager_a, sim_server, 102, "start").status_code == 202
    guests = {guest["vmid"]: guest["status"] for guest in client.get(reverse("api:guests")).json()["guests"]}
    assert guests[102] == "running"


@pytest.mark.parametrize(
    "vmid, action, reason",
    [
        (100, "start", "web-01 is already running."),
        (102, "shutdown", "db-01 is not running."),
        (102, "reset", "db-01 is not running."),
        (200, "reset", "dns-ct is a container (LXC), which cannot be reset; use reboot, or stop then start."),
        (9000, "start", "debian-template is a template: templates cannot be started, stopped or reset."),
        (100, "hibernate", "Unknown power action 'hibernate': use one of start, shutdown, reboot, suspend, resume, "
         "stop, reset."),
        (100, "", "Unknown power action '': use one of start, shutdown, reboot, suspend, resume, stop, reset."),
    ],
)  # fmt: skip
def test_what_the_guests_type_or_state_cannot_do_is_409_with_the_reason(
    client, manager_a, sim_server, pve, vmid, action, reason
):
    response = power(client, manager_a, sim_server, vmid, action)
    assert response.status_code == 409
    assert response.json()["detail"] == reason
    event = last_audit()
    assert (event.outcome, event.details["reason"], event.details["vmid"]) == ("failure", reason, vmid)
    assert "upid" not in event.details


def test_proxmox_refusing_a_locked_guest_is_409_with_its_words(client, manager_a, sim_server, pve):
    pve.guest(100).lock = "backup"
    response = power(client, manager_a, sim_server, 100, "shutdown")
    assert response.status_code == 409
    assert response.json()["detail"] == f"{pve.host}:{pve.port} answered HTTP 500: VM is locked (backup)"
    assert last_audit().outcome == "failure"


def test_a_viewer_may_not_and_it_is_audited_as_denied(client, viewer_a, sim_server, pve):
    response = power(client, viewer_a, sim_server, 102, "start")
    assert response.status_code == 403
    assert pve.guest(102).status == "stopped"
    event = last_audit()
    assert (event.actor, event.outcome, event.tenant) == (viewer_a, "denied", sim_server.tenant)


def test_an_action_the_tenant_does_not_allow_is_403(client, manager_a, sim_server, tenant_a, pve):
    tenant_a.allowed_power_actions = ["start", "shutdown"]
    tenant_a.save()
    response = power(client, manager_a, sim_server, 100, "reset")
    assert response.status_code == 403
    assert response.json()["detail"] == "Tenant A does not allow reset of its guests."
    assert last_audit().outcome == "denied"
    assert power(client, manager_a, sim_server, 100, "shutdown").status_code == 202


@pytest.mark.parametrize("user", ["outsider", "admin_b"])
def test_a_guest_of_another_tenant_is_404_and_still_audited(request, client, sim_server, user):
    caller = request.getfixturevalue(user)
    assert power(client, caller, sim_server, 102, "start").status_code == 404
    event = last_audit()
    assert (event.actor, event.outcome, event.tenant) == (caller, "denied", None)


def test_a_server_that_fails_is_the_upstreams_error(client, manager_a, sim_server, pve):
    pve.faults.http_500 = True
    response = power(client, manager_a, sim_server, 102, "start")
    assert response.status_code == 502
    assert last_audit().outcome == "failure"


@pytest.fixture
def customer(sim_server):
    user = make_user("customer")
    guest_grant_set(user=user, server=sim_server, vmid=102, console=True, power=True)
    guest_grant_set(user=user, server=sim_server, vmid=100, console=True)
    return user


def test_a_single_guest_grant_with_power_powers_that_guest_only(client, customer, sim_server, pve):
    assert power(client, customer, sim_server, 102, "start").status_code == 202
    assert power(client, customer, sim_server, 100, "shutdown").status_code == 403  # console only
    assert power(client, customer, sim_server, 101, "shutdown").status_code == 404  # not hers
    assert pve.guest(100).running and pve.guest(101).running and pve.guest(102).running


def test_a_failure_reads_without_the_address_for_those_who_may_not_change_the_server(client, customer, sim_server):
    sim_server.port = 9
    sim_server.save()
    response = power(client, customer, sim_server, 102, "start")
    assert response.status_code == 502
    assert "127.0.0.1" not in response.json()["detail"]
    assert "pve-sim" in response.json()["detail"]
