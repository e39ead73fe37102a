"""How to reach one Proxmox VE endpoint: the Connection, its TLS contexts and certificate fingerprints."""

from __future__ import annotations

import hashlib
import re
import ssl
from dataclasses import dataclass, field

from .errors import ConfigurationError

TLS_MODES = ("system", "ca", "fingerprint")
TOKEN_ID_PATTERN = re.compile(r"[^\s:/@!=]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+")
_TOKEN_SECRET = re.compile(r"[\x21-\x7e]{1,512}")


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
        if not _TOKEN_SECRET.fullmatch(self.token_secret or ""):
            raise ConfigurationError("Invalid API token secret: it must be printable ASCII without spaces.")
        if self.tls_mode not in TLS_MODES:
            raise ConfigurationError(f"Unknown TLS mode {self.tls_mode!r}: use one of {', '.join(TLS_MODES)}.")
        if self.tls_mode == "ca" and "BEGIN CERTIFICATE" not in self.ca_pem:
            raise ConfigurationError("TLS mode 'ca' needs the CA certificate in PEM form.")
        if self.tls_mode == "fingerprint":
            object.__setattr__(self, "fingerprint", normalise_fingerprint(self.fingerprint))
        if not self.timeout or self.timeout <= 0:
            raise ConfigurationError("The timeout must be a positive number of seconds.")

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
