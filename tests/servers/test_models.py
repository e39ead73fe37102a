import pytest
from django.core.exceptions import ValidationError

from servers.models import ProxmoxServer, TLSMode
from tests.conftest import make_server


@pytest.mark.parametrize("host", ["pve1.example.com", "10.0.0.5", "2001:db8::1", "[2001:db8::1]", "pve-1", "localhost"])
def test_host_names_and_addresses_are_accepted(tenant_a, host):
    server = ProxmoxServer(tenant=tenant_a, name="x", host=host, token_id="a@pve!bb", fingerprint="AB" * 32)
    server.token_secret = "s"
    server.full_clean()


@pytest.mark.parametrize(
    "host", ["", "pve 1", "pve1.example.com/api", "user@pve1", "pve1:8006", "-pve", "a" * 64 + ".com", "http://pve"]
)
def test_hosts_that_could_bend_the_url_are_refused(tenant_a, host):
    server = ProxmoxServer(tenant=tenant_a, name="x", host=host, token_id="a@pve!bb", fingerprint="AB" * 32)
    server.token_secret = "s"
    with pytest.raises(ValidationError) as error:
        server.full_clean()
    assert "host" in error.value.message_dict


@pytest.mark.parametrize("port", [0, 65536])
def test_ports_outside_the_tcp_range_are_refused(tenant_a, port):
    server = ProxmoxServer(tenant=tenant_a, name="x", host="pve", port=port, token_id="a@pve!bb", fingerprint="AB" * 32)
    server.token_secret = "s"
    with pytest.raises(ValidationError) as error:
        server.full_clean()
    assert "port" in error.value.message_dict


@pytest.mark.parametrize("token_id", ["root", "root@pam", "root@pam!", "root pam!x", "root@pam!to ken"])
def test_token_ids_must_look_like_proxmox_ones(tenant_a, token_id):
    server = ProxmoxServer(tenant=tenant_a, name="x", host="pve", token_id=token_id, fingerprint="AB" * 32)
    server.token_secret = "s"
    with pytest.raises(ValidationError) as error:
        server.full_clean()
    assert "token_id" in error.value.message_dict


def test_fingerprints_are_normalised_to_proxmox_form(tenant_a):
    server = ProxmoxServer(tenant=tenant_a, name="x", host="pve", token_id="a@pve!bb", fingerprint="ab" * 32)
    server.token_secret = "s"
    server.full_clean()
    assert server.fingerprint == ":".join(["AB"] * 32)


def test_tls_modes_require_what_they_verify_with(tenant_a):
    server = ProxmoxServer(tenant=tenant_a, name="x", host="pve", token_id="a@pve!bb", tls_mode=TLSMode.FINGERPRINT)
    server.token_secret = "s"
    with pytest.raises(ValidationError) as error:
        server.full_clean()
    assert "fingerprint" in error.value.message_dict
    server.tls_mode = TLSMode.CA
    with pytest.raises(ValidationError) as error:
        server.full_clean()
    assert "ca_pem" in error.value.message_dict


def test_tailscale_needs_a_hostname_and_then_is_the_address(tenant_a):
    server = make_server(tenant_a, "ts", host="10.1.1.1")
    server.use_tailscale = True
    with pytest.raises(ValidationError):
        server.full_clean()
    server.tailscale_hostname = "pve.tail1234.ts.net"
    server.full_clean()
    assert server.connection().host == "pve.tail1234.ts.net"


def test_the_tenant_server_limit_is_enforced(tenant_a):
    tenant_a.max_servers = 2
    tenant_a.save()
    make_server(tenant_a, "one")
    existing = make_server(tenant_a, "two")
    third = ProxmoxServer(tenant=tenant_a, name="three", host="pve", token_id="a@pve!bb", fingerprint="AB" * 32)
    third.token_secret = "s"
    with pytest.raises(ValidationError) as error:
        third.full_clean()
    assert "maximum of 2" in str(error.value)
    existing.full_clean()  # editing a server already counted is fine


def test_fifty_servers_is_the_default_limit(tenant_a):
    ProxmoxServer.objects.bulk_create(
        ProxmoxServer(tenant=tenant_a, name=f"pve{i}", host="pve", token_id="a@pve!bb", token_secret_encrypted="x")
        for i in range(50)
    )
    extra = ProxmoxServer(tenant=tenant_a, name="pve50", host="pve", token_id="a@pve!bb", fingerprint="AB" * 32)
    extra.token_secret = "s"
    with pytest.raises(ValidationError):
        extra.full_clean()
