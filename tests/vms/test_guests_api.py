"""GET /api/v1/guests/: every guest a user may see across servers, from all servers at once, cached per server."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import make_server, make_user
from vms.services import guest_grant_set

URL = reverse("api:guests")


def listing(client, user, **query):
    client.force_login(user)
    response = client.get(URL, query)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def sim_copy(tenant, name, pve, **fields):
    """Another server row of `tenant` in front of the same simulated cluster."""
    return make_server(tenant, name, **{**pve.connection_settings(), **fields})


@pytest.fixture
def guest_holder(db):
    return make_user("guest-holder")


@pytest.fixture
def servers(tenant_a, sim_server, pve):
    return [sim_server, sim_copy(tenant_a, "pve-sim-2", pve)]


def test_every_guest_of_every_server_comes_with_its_server_and_figures(client, manager_a, servers):
    body = listing(client, manager_a)
    assert body["count"] == 14 and body["errors"] == []
    web = next(guest for guest in body["guests"] if guest["vmid"] == 100 and guest["server"]["name"] == "pve-sim")
    assert web["server"] == {"id": servers[0].pk, "name": "pve-sim"}
    assert set(web) == {
        "server", "node", "vmid", "type", "name", "status", "template", "cpu", "maxcpu", "mem", "maxmem", "disk",
        "maxdisk", "uptime", "tags", "actions",
    }  # fmt: skip
    assert (web["node"], web["type"], web["name"], web["status"], web["tags"]) == (
        "pve1",
        "qemu",
        "web-01",
        "running",
        ["prod", "web"],
    )
    assert web["maxcpu"] == 4 and web["maxmem"] == 8589934592 and web["uptime"] >= 0


def test_the_actions_say_what_this_user_may_do_with_each_guest_now(client, manager_a, viewer_a, sim_server):
    guests = {guest["vmid"]: guest["actions"] for guest in listing(client, manager_a)["guests"]}
    assert guests[100] == {
        "console": True, "start": False, "shutdown": True, "reboot": True, "suspend": True, "resume": True,
        "stop": True, "reset": True,
    }  # fmt: skip
    assert [action for action, allowed in guests[102].items() if allowed] == ["start"]  # db-01 is stopped
    assert not any(guests[9000].values())  # a template
    assert guests[200]["reset"] is False and guests[200]["reboot"] is True  # a container cannot be reset
    viewer = {guest["vmid"]: guest["actions"] for guest in listing(client, viewer_a)["guests"]}
    assert not any(any(actions.values()) for actions in viewer.values())


def test_the_tenants_allowed_actions_and_console_setting_narrow_the_actions(client, manager_a, sim_server, tenant_a):
    tenant_a.allowed_power_actions = ["start", "shutdown"]
    tenant_a.console_enabled = False
    tenant_a.save()
    guests = {guest["vmid"]: guest["actions"] for guest in listing(client, manager_a)["guests"]}
    assert [action for action, allowed in guests[100].items() if allowed] == ["shutdown"]


def test_other_tenants_and_outsiders_see_none_of_them(client, servers, admin_b, outsider, server_b):
    server_b.port = 9
    server_b.save()
    assert [g["server"]["name"] for g in listing(client, admin_b)["guests"]] == []
    assert listing(client, outsider) == {"count": 0, "guests": [], "errors": []}


@pytest.mark.parametrize(
    "query, vmids",
    [
        ({"type": "lxc"}, [200, 201]),
        ({"status": "stopped"}, [102, 201, 9000]),
        ({"node": "pve3"}, [103, 201]),
        ({"search": "WEB"}, [100, 101]),  # name or tag, any case
        ({"search": "db"}, [102]),
        ({"search": "90"}, [9000]),  # the start of the vmid
        ({"search": "infra"}, [200]),
        ({"sort": "-vmid"}, [9000, 201, 200, 103, 102, 101, 100]),
        ({"sort": "name", "type": "qemu"}, [102, 9000, 100, 101, 103]),
    ],
)
def test_guests_are_filtered_searched_and_sorted(client, manager_a, sim_server, query, vmids):
    assert [guest["vmid"] for guest in listing(client, manager_a, **query)["guests"]] == vmids


def test_a_tenant_or_a_server_narrows_the_list(client, platform_admin, servers, server_b):
    server_b.port = 9
    server_b.save()
    by_tenant = listing(client, platform_admin, tenant="tenant-b")
    assert by_tenant["count"] == 0 and [e["server"]["name"] for e in by_tenant["errors"]] == ["pve-b"]
    by_server = listing(client, platform_admin, server=servers[1].pk)
    assert {guest["server"]["name"] for guest in by_server["guests"]} == {"pve-sim-2"}
    assert listing(client, platform_admin, server="nonsense")["count"] == 0
    assert listing(client, platform_admin, tenant="no-such-tenant")["count"] == 0


def test_a_failing_server_is_listed_with_its_reason_and_the_others_still_answer(
    client, viewer_a, admin_a, tenant_a, servers
):
    make_server(tenant_a, "pve-down", host="127.0.0.1", port=9, fingerprint=servers[0].fingerprint)
    body = listing(client, admin_a)
    assert body["count"] == 14
    (failure,) = body["errors"]
    assert failure["server"]["name"] == "pve-down" and failure["code"] == "proxmox_unreachable"
    assert "Cannot connect to 127.0.0.1:9" in failure["reason"]
    # Who may not change the server reads the reason without its address.
    (failure,) = listing(client, viewer_a)["errors"]
    assert failure["reason"].startswith("Cannot connect to pve-down")
    assert "127.0.0.1" not in str(body["guests"])


def test_a_disabled_server_is_listed_as_disabled(client, manager_a, servers):
    servers[1].is_active = False
    servers[1].save()
    (failure,) = listing(client, manager_a)["errors"]
    assert failure["code"] == "server_disabled"


def test_a_viewer_reads_a_failure_without_the_address(client, viewer_a, sim_server):
    sim_server.port = 9
    sim_server.save()
    (failure,) = listing(client, viewer_a)["errors"]
    assert failure["reason"] == "Cannot connect to pve-sim: connection refused or no route to host."


def test_answers_are_kept_a_few_seconds_per_server_and_fresh_asks_again(client, manager_a, sim_server, pve):
    assert listing(client, manager_a)["count"] == 7
    pve.set_guest_status(102, "running")
    cached = {guest["vmid"]: guest["status"] for guest in listing(client, manager_a)["guests"]}
    assert cached[102] == "stopped"
    fresh = {guest["vmid"]: guest["status"] for guest in listing(client, manager_a, fresh=1)["guests"]}
    assert fresh[102] == "running"
    # The fresh answer is kept for the next reader.
    assert {g["vmid"]: g["status"] for g in listing(client, manager_a)["guests"]}[102] == "running"


def test_a_failure_is_kept_too_so_a_dead_server_is_not_asked_on_every_poll(client, manager_a, sim_server, pve):
    pve.faults.http_500 = True
    assert listing(client, manager_a)["errors"][0]["code"] == "proxmox_proxmoxapierror"
    pve.faults.http_500 = False
    assert listing(client, manager_a)["errors"]
    assert not listing(client, manager_a, fresh=1)["errors"]


def test_a_server_that_hangs_is_given_up_after_its_own_timeout(client, manager_a, tenant_a, servers, pve):
    pve.faults.hang = True
    for server in servers:
        server.connection_timeout = 1
        server.save()
    body = listing(client, manager_a)
    assert body["count"] == 0
    assert [failure["code"] for failure in body["errors"]] == ["proxmox_timedout", "proxmox_timedout"]


def count_queries(client, user, query=None):
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL, query or {}).status_code == 200
    return len(queries)


@pytest.mark.parametrize("user", ["manager_a", "guest_holder"])
def test_the_number_of_queries_does_not_grow_with_servers_or_guests(request, client, tenant_a, pve, user):
    caller = request.getfixturevalue(user)
    servers = [sim_copy(tenant_a, f"pve-{index}", pve) for index in range(50)]
    for server in servers:
        guest_grant_set(user=request.getfixturevalue("guest_holder"), server=server, vmid=100, console=True)
    few = count_queries(client, caller, {"server": servers[0].pk, "fresh": 1})
    many = count_queries(client, caller, {"fresh": 1})
    assert few == many
    assert count_queries(client, caller) == many  # from the cache


def test_a_user_with_single_guests_sees_exactly_those(client, guest_holder, servers):
    guest_grant_set(user=guest_holder, server=servers[0], vmid=100, console=True)
    guest_grant_set(user=guest_holder, server=servers[1], vmid=201)
    body = listing(client, guest_holder)
    assert [(g["server"]["name"], g["vmid"]) for g in body["guests"]] == [("pve-sim", 100), ("pve-sim-2", 201)]
    actions = {guest["vmid"]: guest["actions"] for guest in body["guests"]}
    assert actions[100]["console"] is True and actions[100]["shutdown"] is False
    assert not any(actions[201].values())
