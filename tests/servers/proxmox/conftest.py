"""Shared by the servers.proxmox tests: a made-up host answered by `responses` (no network), and the Proxmox VE
simulator (real HTTPS, TLS and WebSockets; the `pve` fixture)."""

import datetime
import socket

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from servers.proxmox import Connection, ProxmoxClient

SECRET = "5f0c9b1e-secret-7d2a-4c3e-9b8f00c0ffee"
BASE = "https://pve.example.com:8006/api2/json"
UPID = "UPID:pve:0000ABCD:00112233:65A0B1C2:qmstart:100:nexus@pve!broker:"
FINGERPRINT = ":".join(["AB"] * 32)


def make_connection(**overrides) -> Connection:
    fields = {"host": "pve.example.com", "token_id": "nexus@pve!broker", "token_secret": SECRET, "timeout": 5.0}
    fields.update(overrides)
    return Connection(**fields)


@pytest.fixture
def client():
    with ProxmoxClient(make_connection()) as client:
        yield client


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


def ok(mocked, method, path, data, **kwargs):
    mocked.add(method, BASE + path, json={"data": data}, **kwargs)


def connect(pve, **overrides) -> Connection:
    return Connection(**{**pve.connection_settings(), "timeout": 5.0, **overrides})


@pytest.fixture
def pve_client(pve):
    with ProxmoxClient(connect(pve)) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_cert():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert.public_bytes(serialization.Encoding.DER)
