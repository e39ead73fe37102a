"""servers.proxmox.connection: what a Connection accepts, and its TLS modes (offline and against the simulator)."""

import socket
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


@pytest.mark.parametrize(
    "secret, why",
    [
        ("", "empty"),
        ("5f0c9b1e secret", "spaces or line breaks"),
        ("5f0c9b1e\nsecret", "spaces or line breaks"),
        ("5f0c9b1e-sécret", "plain ASCII"),
        ("5f0c9b1e-\x07", "plain ASCII"),
        ("a" * 129, "129 characters long"),
    ],
)
def test_token_secrets_proxmox_could_never_accept_are_refused_and_say_why(secret, why):
    assert why in proxmox.token_secret_problem(secret)
    with pytest.raises(ConfigurationError, match=why):
        make_connection(token_secret=secret)


def test_a_uuid_is_a_token_secret():
    assert proxmox.token_secret_problem("5f0c9b1e-0d2a-4c3e-9b8f-00c0ffee0001") == ""


def test_a_ca_certificate_must_parse():
    proxmox.check_ca_pem(make_cert()[0].decode())
    for pem, why in [
        ("just text", "PEM form"),
        ("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n", "does not parse"),
        (make_cert()[1].decode(), "private key"),
    ]:
        with pytest.raises(ConfigurationError, match=why):
            proxmox.check_ca_pem(pem)


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0", "::ffff:169.254.169.254", "fd00:ec2::254"]
)
def test_link_local_and_cloud_metadata_addresses_are_always_denied(address):
    assert proxmox.denied_network(address) is not None


def test_more_ranges_may_be_denied():
    loopback = proxmox.parse_networks(["127.0.0.0/8", "::1"])
    assert proxmox.denied_network("127.0.0.1") is None
    assert str(proxmox.denied_network("127.0.0.1", loopback)) == "127.0.0.0/8"
    assert str(proxmox.denied_network("::1", loopback)) == "::1/128"
    assert proxmox.denied_network("192.0.2.1", loopback) is None
    with pytest.raises(ConfigurationError):
        proxmox.parse_networks(["loopback"])


def test_a_call_to_a_denied_address_is_refused_before_anything_is_sent():
    """Checked on the connected socket, so a host name that resolves into a denied range is refused as well."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        connection = make_connection(host="localhost", port=port, denied_networks=("127.0.0.0/8",), timeout=2.0)
        with ProxmoxClient(connection) as client:
            with pytest.raises(proxmox.DeniedAddress, match=r"localhost \(127\.0\.0\.1\) is in 127\.0\.0\.0/8"):
                client.version()
        with pytest.raises(proxmox.DeniedAddress):
            proxmox.fetch_fingerprint("127.0.0.1", port, denied=proxmox.parse_networks(["127.0.0.1"]))
        listener.settimeout(2)
        for _ in range(2):
            peer, _ = listener.accept()
            with peer:
                peer.settimeout(2)
                assert peer.recv(1024) == b""  # closed without a byte: no TLS hello, no token


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
