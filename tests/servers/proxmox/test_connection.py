"""servers.proxmox.connection: what a Connection accepts, and its TLS modes (offline and against the simulator)."""

import ssl

import pytest

from servers import proxmox
from servers.proxmox import ConfigurationError, ProxmoxClient, TLSFailure
from tests.servers.proxmox.conftest import FINGERPRINT, SECRET, connect, make_cert, make_connection


def test_a_fingerprint_is_normalised():
    conn = make_connection(tls_mode="fingerprint", fingerprint="ab" * 32)
    assert conn.fingerprint == FINGERPRINT
    assert make_connection(tls_mode="fingerprint", fingerprint=FINGERPRINT.lower()).fingerprint == FINGERPRINT


@pytest.mark.parametrize(
    "overrides",
    [
        {"tls_mode": "fingerprint", "fingerprint": ""},
        {"tls_mode": "fingerprint", "fingerprint": "AB:CD"},
        {"tls_mode": "insecure"},
        {"tls_mode": "ca", "ca_pem": ""},
        {"token_id": "root@pam"},
        {"host": "pve.example.com/evil"},
        {"port": 0},
        {"token_secret": "with space"},
    ],
)
def test_an_unusable_connection_is_refused(overrides):
    with pytest.raises(ConfigurationError):
        make_connection(**overrides)


def test_an_ipv6_host_is_bracketed_in_urls():
    assert make_connection(host="[fd00::1]").base_url == "https://[fd00::1]:8006/api2/json"
    assert make_connection(host="fd00::1").netloc == "[fd00::1]:8006"


def test_tls_contexts_follow_the_mode():
    system = proxmox.ssl_context(make_connection())
    assert system.verify_mode == ssl.CERT_REQUIRED and system.check_hostname
    pinned = proxmox.ssl_context(make_connection(tls_mode="fingerprint", fingerprint=FINGERPRINT))
    assert pinned.verify_mode == ssl.CERT_NONE and not pinned.check_hostname
    ca = proxmox.ssl_context(make_connection(tls_mode="ca", ca_pem=make_cert()[0].decode()))
    assert ca.verify_mode == ssl.CERT_REQUIRED and ca.check_hostname
    assert ca.cert_store_stats()["x509_ca"] == 1


def test_an_unreadable_ca_is_a_configuration_error():
    bogus = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    with pytest.raises(ConfigurationError):
        proxmox.ssl_context(make_connection(tls_mode="ca", ca_pem=bogus))


def test_the_secret_is_never_in_reprs(client):
    conn = make_connection()
    assert SECRET not in repr(conn)
    assert SECRET not in str(conn)
    assert SECRET not in repr(client)


# ---------------------------------------------------------------------------------------- TLS against the simulator


def test_the_pinned_fingerprint_is_accepted(pve_client):
    assert pve_client.version()


def test_a_wrong_fingerprint_is_refused_naming_both(pve):
    wrong = ":".join(["AB"] * 32)
    with ProxmoxClient(connect(pve, fingerprint=wrong)) as client, pytest.raises(TLSFailure) as caught:
        client.version()
    assert wrong in caught.value.message
    assert pve.fingerprint in caught.value.message


def test_a_rotated_certificate_breaks_the_pin_but_not_the_ca(pve):
    old = pve.fingerprint
    pve.rotate_certificate()
    with ProxmoxClient(connect(pve, fingerprint=old)) as client, pytest.raises(TLSFailure, match=pve.fingerprint):
        client.version()
    with ProxmoxClient(connect(pve, tls_mode="ca", ca_pem=pve.ca_pem, fingerprint="")) as client:
        assert client.version()


def test_the_cluster_ca_is_accepted(pve):
    with ProxmoxClient(connect(pve, tls_mode="ca", ca_pem=pve.ca_pem, fingerprint="")) as client:
        assert client.version()


def test_system_trust_refuses_the_self_signed_cluster_ca(pve):
    with ProxmoxClient(connect(pve, tls_mode="system", fingerprint="")) as client:
        with pytest.raises(TLSFailure, match="not trusted"):
            client.version()
