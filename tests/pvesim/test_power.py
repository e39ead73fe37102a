"""Power actions run as tasks with Proxmox's UPIDs and change the guest when they finish."""

import re
import time

import pytest

UPID = re.compile(r"^UPID:([^:]+):([0-9A-F]{8}):([0-9A-F]{8}):([0-9A-F]{8}):([^:]+):([^:]*):([^:]+):$")


def wait_for_task(api, node, upid, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.data("get", f"/nodes/{node}/tasks/{upid}/status")
        if status["status"] == "stopped":
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {upid} still running")


def test_starting_a_vm_returns_a_upid_with_nine_fields(api):
    upid = api.data("post", "/nodes/pve1/qemu/102/status/start")
    match = UPID.match(upid)
    assert match, upid
    assert match[1] == "pve1" and match[5] == "qmstart" and match[6] == "102" and match[7] == "root@pam!nexus"
    assert upid.count(":") == 8


def test_a_task_runs_then_stops_with_ok_and_the_vm_runs(api, pve):
    pve.task_delay = 0.3
    upid = api.data("post", "/nodes/pve1/qemu/102/status/start")
    assert api.data("get", f"/nodes/pve1/tasks/{upid}/status")["status"] == "running"
    assert pve.guest(102).status == "stopped"
    status = wait_for_task(api, "pve1", upid)
    assert status["exitstatus"] == "OK" and status["type"] == "qmstart" and status["upid"] == upid
    assert api.data("get", "/nodes/pve1/qemu/102/status/current")["status"] == "running"


def test_a_container_stops_with_a_vzstop_task(api, pve):
    upid = api.data("post", "/nodes/pve2/lxc/200/status/stop")
    assert UPID.match(upid)[5] == "vzstop"
    assert wait_for_task(api, "pve2", upid)["exitstatus"] == "OK"
    assert pve.guest(200).status == "stopped"


def test_suspend_pauses_a_vm_that_stays_running(api, pve):
    wait_for_task(api, "pve1", api.data("post", "/nodes/pve1/qemu/100/status/suspend"))
    status = api.data("get", "/nodes/pve1/qemu/100/status/current")
    assert (status["status"], status["qmpstatus"]) == ("running", "paused")
    wait_for_task(api, "pve1", api.data("post", "/nodes/pve1/qemu/100/status/resume"))
    assert api.data("get", "/nodes/pve1/qemu/100/status/current")["qmpstatus"] == "running"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/nodes/pve1/qemu/100/status/start", "VM 100 already running\n"),
        ("/nodes/pve1/qemu/102/status/stop", "VM 102 not running\n"),
        ("/nodes/pve3/lxc/201/status/shutdown", "CT 201 not running\n"),
        ("/nodes/pve2/lxc/200/status/start", "CT 200 already running\n"),
        ("/nodes/pve1/qemu/9000/status/start", "you can't start a vm if it's a template\n"),
    ],
)
def test_an_impossible_action_is_500_with_the_reason(api, path, message):
    response = api.post(path)
    assert response.status_code == 500
    assert response.json() == {"data": None, "message": message}


def test_a_second_start_before_the_first_finished_fails_in_its_task(api, pve):
    pve.task_delay = 0.3
    first = api.data("post", "/nodes/pve1/qemu/102/status/start")
    second = api.data("post", "/nodes/pve1/qemu/102/status/start")
    assert wait_for_task(api, "pve1", first)["exitstatus"] == "OK"
    assert wait_for_task(api, "pve1", second)["exitstatus"] == "VM 102 already running"


def test_containers_have_no_reset(api):
    response = api.post("/nodes/pve2/lxc/200/status/reset")
    assert response.status_code == 501
    assert response.json()["message"] == "Method 'POST /nodes/pve2/lxc/200/status/reset' not implemented"


def test_another_users_task_needs_sys_audit(api, pve):
    upid = api.data("post", "/nodes/pve1/qemu/100/status/reset")
    pve.add_token("viewer@pve!tasks", "secret", {"VM.Audit"})
    response = api.with_token("viewer@pve!tasks", "secret").get(f"/nodes/pve1/tasks/{upid}/status")
    assert response.status_code == 403
    assert response.json()["message"] == "Permission check failed (/nodes/pve1, Sys.Audit)\n"


def test_set_guest_status_changes_what_the_api_reports(api, pve):
    pve.set_guest_status(100, "stopped")
    assert api.data("get", "/nodes/pve1/qemu/100/status/current")["status"] == "stopped"


def test_reset_brings_guests_back_to_their_configured_state(api, pve):
    pve.set_guest_status(102, "running")
    pve.reset()
    assert pve.guest(102).status == "stopped"


def test_without_a_delay_the_task_has_ended_when_the_api_answers(api, pve):
    upid = api.data("post", "/nodes/pve1/qemu/102/status/start")
    assert api.data("get", f"/nodes/pve1/tasks/{upid}/status")["exitstatus"] == "OK"
    assert pve.guest(102).status == "running"


def wait_for(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()


# The phases of a 4-second task are 2 seconds apart: ample to see each state between them, even on a busy machine.


def test_a_start_writes_its_log_and_the_guest_runs_before_the_task_ends(api, pve):
    pve.task_delay = 4
    upid = api.data("post", "/nodes/pve1/qemu/102/status/start")
    assert [line["t"] for line in api.data("get", f"/nodes/pve1/tasks/{upid}/log")] == [
        "starting VM 102 (db-01) on node 'pve1'"
    ]
    wait_for(lambda: pve.guest(102).status == "running")
    assert api.data("get", f"/nodes/pve1/tasks/{upid}/status")["status"] == "running"
    log = api.data("get", f"/nodes/pve1/tasks/{upid}/log")
    assert [line["n"] for line in log] == [1, 2] and log[1]["t"] == "VM 102 (db-01) started"


def test_a_reboot_stops_the_guest_then_starts_it_again(api, pve):
    pve.task_delay = 4
    pid = pve.guest(100).pid
    upid = api.data("post", "/nodes/pve1/qemu/100/status/reboot")
    wait_for(lambda: pve.guest(100).status == "stopped")
    wait_for_task(api, "pve1", upid, timeout=10)
    assert pve.guest(100).status == "running" and pve.guest(100).pid != pid
    assert api.data("get", f"/nodes/pve1/tasks/{upid}/log", start=3) == [{"n": 4, "t": "TASK OK"}]


def test_an_injected_fault_fails_the_task_with_the_reason_and_leaves_the_guest(api, pve):
    pve.faults.task_error = "start failed: QEMU exited with code 1"
    upid = api.data("post", "/nodes/pve1/qemu/102/status/start")
    status = api.data("get", f"/nodes/pve1/tasks/{upid}/status")
    assert status["exitstatus"] == "start failed: QEMU exited with code 1"
    assert (
        api.data("get", f"/nodes/pve1/tasks/{upid}/log")[-1]["t"] == "TASK ERROR: start failed: QEMU exited with code 1"
    )
    assert pve.guest(102).status == "stopped"


def test_the_task_list_gives_the_end_time_of_finished_tasks(api, pve):
    upid = api.data("post", "/nodes/pve1/qemu/102/status/start")
    api.data("post", "/nodes/pve1/qemu/100/status/reboot")
    tasks = api.data("get", "/nodes/pve1/tasks", vmid=102, source="all")
    assert [task["upid"] for task in tasks] == [upid]
    assert tasks[0]["status"] == "OK" and tasks[0]["endtime"] >= tasks[0]["starttime"]


def test_a_task_log_of_an_unparsable_upid_is_refused_like_proxmox(api):
    response = api.get("/nodes/pve1/tasks/UPID:nonsense/log")
    assert response.status_code == 500
    assert response.json()["message"] == "unable to parse worker upid 'UPID:nonsense'\n"
