"""How to reach one Proxmox VE endpoint: the Connection, its TLS contexts and certificate fingerprints."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import ConfigurationError, DeniedAddress

TLS_MODES = ("system", "ca", "fingerprint")
TOKEN_ID_PATTERN = re.compile(r"[^\s:/@!=]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+")
# Proxmox issues token secrets as UUIDs (36 characters); a secret far longer than that is a paste gone wrong.
MAX_TOKEN_SECRET_LENGTH = 128

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Link-local addresses, where the cloud metadata services answer (169.254.169.254, and AWS's fd00:ec2::254): a
# Proxmox server is never there, and a broker that fetched from there would hand out the host's cloud credentials.
ALWAYS_DENIED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network) for network in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128")
)


def token_secret_problem(secret: str) -> str:
    """Why Proxmox could never accept `secret` as an API token secret; "" when it could."""
    if not secret:
        return "The API token secret is empty."
    if any(c.isspace() for c in secret):
        return "The API token secret contains spaces or line breaks; Proxmox's secrets never do."
    if not secret.isascii() or not secret.isprintable():
        return "The API token secret contains characters Proxmox's secrets never have (they are plain ASCII)."
    if len(secret) > MAX_TOKEN_SECRET_LENGTH:
        return (
            f"The API token secret is {len(secret)} characters long; Proxmox's are 36 (a UUID), "
            f"and at most {MAX_TOKEN_SECRET_LENGTH} are accepted."
        )
    return ""


def check_ca_pem(pem: str) -> None:
    """Raise ConfigurationError unless `pem` is one or more CA certificates that TLS verification can load."""
    if "PRIVATE KEY" in pem:
        raise ConfigurationError("This is a private key: paste the CA certificate, and keep the key to yourself.")
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ConfigurationError("Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE----- ...).")
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        raise ConfigurationError(f"The CA certificate does not parse ({reason}).") from None


def parse_networks(values: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """Address ranges ("127.0.0.0/8", "::1") as networks; ConfigurationError for one that is none."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ConfigurationError(f"{value!r} is not an address range (e.g. 127.0.0.0/8 or ::1/128).") from None
    return tuple(networks)


def denied_network(address: str, denied: Iterable[IPNetwork] = ()) -> IPNetwork | None:
    """The denied range `address` (an IP address) lies in, counting ALWAYS_DENIED_NETWORKS; None when none."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    return next((net for net in (*ALWAYS_DENIED_NETWORKS, *denied) if ip.version == net.version and ip in net), None)


def refuse_denied_peer(sock: socket.socket, host: str, denied: Iterable[IPNetwork] = ()) -> None:
    """Close `sock` and raise DeniedAddress when it is connected to an address in a denied range.

    Checked on the connected socket, not on the name: a host name that resolves there (now, or only on the next
    lookup) is refused as surely as the address itself.
    """
    address = sock.getpeername()[0]
    network = denied_network(address, denied)
    if network is not None:
        sock.close()
        where = address if host == address else f"{host} ({address})"
        raise DeniedAddress(
            f"{where} is in {network}, where servers may not be reached (link-local and cloud metadata addresses, "
            "and the ranges the operator denied)."
        )


def normalise_fingerprint(value: str) -> str:
    """'aabb..' or 'AA:BB:..' (SHA-256, 32 bytes) -> 'AA:BB:..'; raises ConfigurationError otherwise."""
    hexdigits = re.sub(r"[\s:]", "", value or "").upper()
    if not re.fullmatch(r"[0-9A-F]{64}", hexdigits):
        raise ConfigurationError("A TLS fingerprint must be a SHA-256 digest: 32 bytes as hex, e.g. 'AA:BB:...'.")
    return ":".join(hexdigits[i : i + 2] for i in range(0, 64, 2))


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate in Proxmox's 'AA:BB:...' form."""
    return normalise_fingerprint(hashlib.sha256(der).hexdigest())


@dataclass(frozen=True)
class Connection:
    host: str  # already resolved by the caller: server host, or its Tailscale hostname
    token_id: str  # "USER@REALM!TOKENID"
    token_secret: str = field(repr=False)
    port: int = 8006
    tls_mode: str = "system"  # "system" | "ca" | "fingerprint"
    ca_pem: str = ""
    fingerprint: str = ""
    timeout: float = 10.0  # seconds: the whole budget of each call, from connecting to the last byte
    # Address ranges never connected to, besides ALWAYS_DENIED_NETWORKS (e.g. loopback in production).
    denied_networks: tuple[IPNetwork, ...] = ()

    def __post_init__(self) -> None:
        if self.host.startswith("[") and self.host.endswith("]"):
            object.__setattr__(self, "host", self.host[1:-1])
        if not self.host or any(c in self.host for c in "/?#@ \t\r\n"):
            raise ConfigurationError(f"Invalid Proxmox host {self.host!r}.")
        if not (isinstance(self.port, int) and 0 < self.port < 65536):
            raise ConfigurationError(f"Invalid Proxmox port {self.port!r}.")
        if not TOKEN_ID_PATTERN.fullmatch(self.token_id or ""):
            raise ConfigurationError(
                f"Invalid API token id {self.token_id!r}: expected USER@REALM!TOKENID, e.g. nexus@pve!broker."
            )
        problem = token_secret_problem(self.token_secret or "")
        if problem:
            raise ConfigurationError(problem)
        if self.tls_mode not in TLS_MODES:
            raise ConfigurationError(f"Unknown TLS mode {self.tls_mode!r}: use one of {', '.join(TLS_MODES)}.")
        if self.tls_mode == "ca" and "BEGIN CERTIFICATE" not in self.ca_pem:
            raise ConfigurationError("TLS mode 'ca' needs the CA certificate in PEM form.")
        if self.tls_mode == "fingerprint":
            object.__setattr__(self, "fingerprint", normalise_fingerprint(self.fingerprint))
        if not self.timeout or self.timeout <= 0:
            raise ConfigurationError("The timeout must be a positive number of seconds.")
        object.__setattr__(self, "denied_networks", parse_networks(self.denied_networks))

    @property
    def netloc(self) -> str:
        return netloc(self.host, self.port)

    @property
    def base_url(self) -> str:
        return f"https://{self.netloc}/api2/json"

    @property
    def authorization(self) -> str:
        return f"PVEAPIToken={self.token_id}={self.token_secret}"


def netloc(host: str, port: int) -> str:
    """host:port as a URL needs it (IPv6 addresses in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def ssl_context(connection: Connection) -> ssl.SSLContext:
    """The TLS context for `connection`. In fingerprint mode it does NOT verify: the caller must pin the leaf."""
    if connection.tls_mode == "fingerprint":
        return unverified_context()
    if connection.tls_mode == "ca":
        try:
            context = ssl.create_default_context(cadata=connection.ca_pem)
        except ssl.SSLError as exc:
            raise ConfigurationError(f"The configured CA certificate cannot be loaded: {exc.reason or exc}.") from None
    else:
        context = ssl.create_default_context()
        if not context.cert_store_stats().get("x509_ca"):
            _load_certifi(context)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def unverified_context() -> ssl.SSLContext:
    """A TLS context that checks neither CA nor host name. Only for a caller that checks the leaf's fingerprint
    itself (pinning), or that only reads the certificate to show it (trust on first use)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _load_certifi(context: ssl.SSLContext) -> None:
    # Slim containers may have no system CA store; certifi (a requests dependency) is the usual stand-in.
    try:
        import certifi
    except ImportError:
        return
    context.load_verify_locations(certifi.where())
