"""The simulator as a whole: certificates, many servers in one process, config and shutdown."""

import hashlib
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from servers.pvesim import Simulator, load_config


def presented_fingerprint(server) -> str:
    context = ssl.create_default_context(cadata=server.ca_pem)
    with socket.create_connection((server.host, server.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            digest = hashlib.sha256(tls.getpeercert(binary_form=True)).digest()
    return ":".join(f"{byte:02X}" for byte in digest)


def test_the_certificate_verifies_with_the_cluster_ca_and_matches_the_fingerprint(pve):
    assert presented_fingerprint(pve) == pve.fingerprint
    assert len(pve.fingerprint.split(":")) == 32 and pve.fingerprint == pve.fingerprint.upper()


def test_rotating_the_certificate_changes_the_fingerprint_for_new_connections(api, pve):
    before = pve.fingerprint
    pve.rotate_certificate()
    assert pve.fingerprint != before
    assert presented_fingerprint(pve) == pve.fingerprint
    nodes = {node["node"]: node for node in api.data("get", "/nodes")}
    assert nodes["pve1"]["ssl_fingerprint"] == pve.fingerprint
    pve.reset()
    assert presented_fingerprint(pve) == before


def test_twenty_five_servers_run_at_once_each_with_its_own_latency(tmp_path):
    with Simulator(servers=25) as simulator:
        servers = simulator.servers
        assert len({server.port for server in servers}) == 25
        assert len({server.fingerprint for server in servers}) == 25
        servers[0].faults.hang = True
        for index, server in enumerate(servers[1:]):
            server.faults.latency = 0.01 * (index % 3)

        def version(server):
            ca_file = tmp_path / f"{server.name}.pem"
            ca_file.write_text(server.ca_pem)
            session = requests.Session()
            session.trust_env = False
            headers = {"Authorization": f"PVEAPIToken={server.token_id}={server.token_secret}"}
            return session.get(
                server.base_url + "/version", headers=headers, verify=str(ca_file), timeout=5
            ).status_code

        with ThreadPoolExecutor(max_workers=24) as pool:
            assert list(pool.map(version, servers[1:])) == [200] * 24


def test_stop_returns_even_while_a_request_hangs():
    simulator = Simulator().start()
    server = simulator.servers[0]
    server.faults.hang = True
    raw = socket.create_connection((server.host, server.port), timeout=5)
    tls = ssl._create_unverified_context().wrap_socket(raw)
    tls.sendall(b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    simulator.stop()
    tls.close()


def test_a_config_file_is_laid_over_the_defaults(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(
        '[console]\nwidth = 320\n\n[[nodes]]\nname = "solo"\n\n'
        '[[guests]]\nvmid = 500\nname = "lonely"\nkind = "lxc"\nnode = "solo"\nstatus = "running"\n'
    )
    config = load_config(path)
    assert config["console"] == {"width": 320, "height": 600}
    assert [guest["vmid"] for guest in config["guests"]] == [500]
    assert config["token"]["id"] == "root@pam!nexus"
