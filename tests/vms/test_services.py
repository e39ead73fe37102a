"""What a power action and its task tell the tenant's live pages (tenants.events), and when."""

import pytest
from django.core.exceptions import PermissionDenied

from vms import services
from vms.services import guest_power, guest_task_status


@pytest.fixture
def events(monkeypatch):
    heard = []
    monkeypatch.setattr(services, "tenant_event_publish", lambda **event: heard.append(event))
    return heard


def test_a_power_action_and_its_task_are_told_to_the_tenant_once(events, manager_a, sim_server, pve):
    task = guest_power(user=manager_a, server_id=sim_server.pk, vmid=102, action="start", client_ip=None)
    assert [(e["kind"], e["data"]["status"]) for e in events] == [("task.progress", "running")]
    assert events[0]["tenant_id"] == sim_server.tenant_id and events[0]["data"]["upid"] == task.upid
    for _ in range(2):  # two pages poll the same task
        guest_task_status(user=manager_a, server_id=sim_server.pk, upid=task.upid)
    assert [event["kind"] for event in events] == ["task.progress", "task.done", "guest.state"]
    done, state = events[1]["data"], events[2]["data"]
    assert (done["exitstatus"], done["action"], done["vmid"]) == ("OK", "start", 102)
    assert (state["vmid"], state["status"]) == (102, "running")


def test_a_running_task_tells_its_progress(events, manager_a, sim_server, pve):
    pve.task_delay = 30
    task = guest_power(user=manager_a, server_id=sim_server.pk, vmid=102, action="start", client_ip=None)
    guest_task_status(user=manager_a, server_id=sim_server.pk, upid=task.upid)
    progress = events[-1]
    assert progress["kind"] == "task.progress" and progress["data"]["log"] == [
        {"n": 1, "t": "starting VM 102 (db-01) on node 'pve1'"}
    ]
    assert "token" not in str(events).lower()


def test_a_refused_action_tells_nobody(events, viewer_a, sim_server):
    with pytest.raises(PermissionDenied):
        guest_power(user=viewer_a, server_id=sim_server.pk, vmid=102, action="start", client_ip=None)
    assert events == []
