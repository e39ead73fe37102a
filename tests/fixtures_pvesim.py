"""pytest fixtures for the Proxmox VE simulator (registered as a plugin in tests/conftest.py).

`pvesim` starts one simulated cluster for the whole session; `pve` hands a test that
cluster, reset before and after so faults, power changes and tokens do not leak.
"""

import pytest

from servers.pvesim import SimServer, Simulator


@pytest.fixture(scope="session")
def pvesim():
    # Power tasks finish before the API answers (the browser tests give them time: `pve.task_delay = ...`).
    with Simulator({"cluster": {"task_delay": 0}}, servers=1) as simulator:
        yield simulator


@pytest.fixture
def pve(pvesim) -> SimServer:
    server = pvesim.servers[0]
    server.reset()
    yield server
    server.reset()
