"""servers.proxmox.transport: retries, timeouts, and the certificate fetch for trust on first use."""

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from unittest import mock

import pytest
from urllib3.exceptions import NewConnectionError

from servers import proxmox
from servers.proxmox import ProxmoxClient, TimedOut, Unreachable
from tests.servers.proxmox.conftest import connect, free_port

# ------------------------------------------------------------------------------------------------------ retries


def _attempts(client, method):
    """Send `method` with every connection attempt refused; return how many attempts were made."""
    attempts = []

    def refuse(conn, *args, **kwargs):
        attempts.append(1)
        raise NewConnectionError(conn, "Connection refused")

    with mock.patch("urllib3.connectionpool.HTTPConnectionPool._make_request", refuse), pytest.raises(Unreachable):
        if method == "GET":
            client.version()
        else:
            client.power("pve", "qemu", 100, "start")
    return len(attempts)


def test_refused_gets_are_retried_a_few_times(client):
    assert _attempts(client, "GET") == 1 + proxmox.GET_RETRIES


def test_posts_are_never_retried(client):
    assert _attempts(client, "POST") == 1


# ------------------------------------------------------------------------------------------------------ timeouts


def test_a_hanging_server_times_out(pve):
    pve.faults.hang = True
    with ProxmoxClient(connect(pve, timeout=0.5)) as client, pytest.raises(TimedOut):
        client.version()


# ------------------------------------------------------------------------------------------- trust on first use


def test_the_presented_fingerprint_can_be_fetched_for_trust_on_first_use(pve):
    assert proxmox.fetch_fingerprint(pve.host, pve.port, 5) == pve.fingerprint
    with pytest.raises(Unreachable):
        proxmox.fetch_fingerprint("127.0.0.1", free_port(), 2)


def within(seconds: float, call):
    """call()'s result, or its exception; fails the test when it is still running after `seconds`."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(call).result(timeout=seconds)
    except FuturesTimeout:
        raise AssertionError(f"still running after {seconds} s: the call has no overall deadline") from None
    finally:
        pool.shutdown(wait=False)  # the pve fixture's reset ends the trickle, and so a call still running


def test_a_server_that_trickles_its_answer_times_out_at_the_connection_timeout(pve):
    pve.faults.trickle = 0.2  # a byte every 0.2 s: every read is well within the 1 s socket timeout
    started = time.monotonic()
    with ProxmoxClient(connect(pve, timeout=1.0)) as client, pytest.raises(TimedOut, match="within 1 s"):
        within(10, client.version)
    assert time.monotonic() - started < 2.5


def test_a_kept_alive_connection_is_held_to_the_deadline_of_each_call(pve):
    with ProxmoxClient(connect(pve, timeout=1.0)) as client:
        assert client.version()  # opens the connection the next call reuses
        pve.faults.trickle = 0.2
        started = time.monotonic()
        with pytest.raises(TimedOut):
            within(10, client.version)
        assert time.monotonic() - started < 2.5
        pve.faults.trickle = 0
        assert client.version()  # a fresh connection after the one that was cut
