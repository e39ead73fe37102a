"""servers.proxmox.fanout: one call against many servers, each within its own budget."""

import threading
import time

import pytest

from servers import proxmox
from servers.proxmox import TimedOut, Unreachable
from servers.pvesim import Simulator
from tests.servers.proxmox.conftest import connect, make_connection


def test_fan_out_reports_each_server_separately():
    conns = {name: make_connection(host=f"{name}.example.com", timeout=2) for name in ("a", "b")}

    def call(client):
        if client.connection.host.startswith("b"):
            raise Unreachable("down")
        return client.connection.host

    results = proxmox.fan_out(conns, call)
    assert results["a"].value == "a.example.com" and results["a"].error is None and results["a"].ok
    assert isinstance(results["b"].error, Unreachable) and results["b"].value is None


def test_fan_out_gives_up_on_a_hanging_server_without_waiting_for_it():
    release = threading.Event()
    conns = {
        "hang": make_connection(host="hang.example.com", timeout=0.3),
        "fine": make_connection(host="fine.example.com", timeout=0.3),
    }

    def call(client):
        if client.connection.host.startswith("hang"):
            release.wait(30)
        return "answer"

    started = time.monotonic()
    try:
        results = proxmox.fan_out(conns, call)
    finally:
        release.set()
    assert time.monotonic() - started < 10  # far below the 30 s hang; the budget is 0.3 s
    assert isinstance(results["hang"].error, TimedOut)
    assert results["fine"].value == "answer"


def test_fan_out_reraises_bugs_in_the_call():
    def call(client):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        proxmox.fan_out({"a": make_connection()}, call)


def test_fan_out_of_nothing_is_empty():
    assert proxmox.fan_out({}, lambda client: None) == {}


@pytest.fixture(scope="module")
def three_clusters():
    with Simulator(servers=3) as simulator:
        yield simulator.servers


def test_fan_out_returns_on_time_with_one_hanging_server(three_clusters):
    fine, slow, hanging = three_clusters
    for server in three_clusters:
        server.reset()
    slow.faults.latency = 0.3
    hanging.faults.hang = True
    hang_timeout = 1.0
    connections = {
        "fine": connect(fine, timeout=20),
        "slow": connect(slow, timeout=20),
        "hanging": connect(hanging, timeout=hang_timeout),
    }
    started = time.monotonic()
    try:
        results = proxmox.fan_out(connections, lambda client: client.guests())
    finally:
        for server in three_clusters:
            server.reset()
    assert time.monotonic() - started < hang_timeout + 10  # far below the 20 s budget of the others
    assert results["fine"].error is None and results["slow"].error is None
    assert {guest["vmid"] for guest in results["slow"].value} >= {100, 200}
    assert isinstance(results["hanging"].error, TimedOut)
    assert results["hanging"].value is None
