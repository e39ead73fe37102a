"""The one module that speaks the Proxmox VE API.

Framework-free: it takes a plain `Connection` and returns plain Python data. Everything that builds a Proxmox URL,
an Authorization header or a TLS context lives here, so TLS pinning, timeouts and secret hygiene are decided once.

Facts about real Proxmox behaviour this relies on are in the project notes (token header, error bodies, UPIDs,
vncproxy/vncwebsocket, fingerprints as SHA-256 of the leaf certificate).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as websockets_connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

logger = logging.getLogger(__name__)

KINDS = ("qemu", "lxc")
POWER_ACTIONS = ("start", "stop", "shutdown", "reset", "reboot", "suspend", "resume")
TLS_MODES = ("system", "ca", "fingerprint")

# What the broker needs (list/status, power, consoles) and what it may harmlessly have (node stats, others' tasks).
REQUIRED_PRIVILEGES = ("VM.Audit", "VM.PowerMgmt", "VM.Console")
TOLERATED_PRIVILEGES = frozenset({"Sys.Audit"})
# Privileges that let a leaked token take over a cluster rather than just operate guests.
HIGH_RISK_PRIVILEGES = frozenset({
    "Permissions.Modify", "Sys.Modify", "Sys.PowerMgmt", "Sys.Console", "User.Modify", "Realm.Allocate",
    "Realm.AllocateUser", "Group.Allocate", "VM.Allocate", "Datastore.Allocate", "Mapping.Modify",
})

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
# Proxmox sends frames up to 128 KiB; leave room for the frame header and a future increase.
WEBSOCKET_MAX_SIZE = 1024 * 1024
GET_RETRIES = 2
FAN_OUT_GRACE = 0.25

TOKEN_ID_PATTERN = re.compile(r"[^\s:/@!=]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+")
_TOKEN_SECRET = re.compile(r"[\x21-\x7e]{1,512}")
_NODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,62}[A-Za-z0-9])?")
# UPID:node:PID:PSTART:STARTTIME:type:id:user: (hex fields are at least 8 digits; id may be empty)
_UPID = re.compile(r"UPID:[A-Za-z0-9.\-]+(?::[0-9A-Fa-f]{8,}){3}:[A-Za-z0-9_\-]+:[^\s/?#%:]*:[^\s/?#%:]+:")
_SEGMENT = r"[A-Za-z0-9_.:@!=+,~\-]+"
_PARAM_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_FINGERPRINT_MISMATCH = re.compile(r'Expected "([0-9a-fA-F]+)", got "([0-9a-fA-F]+)"')


# ---------------------------------------------------------------------------------------------------------- errors


class ProxmoxError(Exception):
    """Base of every error this module raises; `.message` is fit to show to an operator."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


class ConfigurationError(ProxmoxError, ValueError):
    """The Connection itself is unusable (bad TLS mode, malformed fingerprint or token id)."""


class InvalidRequest(ProxmoxError, ValueError):
    """Refused before anything was sent: bad action, kind, node, vmid or a path outside the API schema."""


class Unreachable(ProxmoxError):
    """No connection: refused, DNS failure, network down, connection dropped."""


class TimedOut(ProxmoxError):
    """The server did not answer completely within the connection's timeout."""


class TLSFailure(ProxmoxError):
    """The certificate was not trusted, or did not match the pinned fingerprint."""

    def __init__(self, message: str, *, expected: str = "", presented: str = ""):
        super().__init__(message)
        self.expected = expected
        self.presented = presented


class AuthenticationFailed(ProxmoxError):
    """401: the API token (or a console ticket) was refused."""


class PermissionDenied(ProxmoxError):
    """403: the token lacks a privilege; `.proxmox_message` is Proxmox's own text naming path and privilege."""

    def __init__(self, message: str, *, status: int | None = 403, proxmox_message: str = ""):
        super().__init__(message, status=status)
        self.proxmox_message = proxmox_message


class NotFound(ProxmoxError):
    """404, 501, or Proxmox saying the object does not exist."""


class ProxmoxAPIError(ProxmoxError):
    """Any other failure, with Proxmox's message and its per-parameter `errors` when it sent them."""

    def __init__(self, message: str, *, status: int | None = None, errors: Mapping[str, str] | None = None):
        super().__init__(message, status=status)
        self.errors = dict(errors or {})


# ------------------------------------------------------------------------------------------------------ connection


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
    timeout: float = 10.0  # seconds, connect and read (and the whole-call budget in fan_out)

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
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"https://{self.netloc}/api2/json"

    @property
    def authorization(self) -> str:
        return f"PVEAPIToken={self.token_id}={self.token_secret}"


def ssl_context(connection: Connection) -> ssl.SSLContext:
    """The TLS context for `connection`. In fingerprint mode it does NOT verify: the caller must pin the leaf."""
    if connection.tls_mode == "fingerprint":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif connection.tls_mode == "ca":
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


def _load_certifi(context: ssl.SSLContext) -> None:
    # Slim containers may have no system CA store; certifi (a requests dependency) is the usual stand-in.
    try:
        import certifi
    except ImportError:
        return
    context.load_verify_locations(certifi.where())


# ------------------------------------------------------------------------------------------------- HTTP transport


class _GetOnlyRetry(Retry):
    """Retries connection failures of GETs only; a POST (power action, vncproxy) is never sent twice."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        # A connect timeout already cost the full timeout; retrying would overrun the caller's budget.
        no_retry = (method or "").upper() != "GET" or (
            isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError)
        )
        policy = self.new(total=0) if no_retry else self
        return Retry.increment(policy, method, url, response, error, _pool, _stacktrace)


def _retry_policy() -> Retry:
    return _GetOnlyRetry(
        total=GET_RETRIES, connect=GET_RETRIES, read=0, status=0, other=0, redirect=0,
        allowed_methods=frozenset({"GET"}), backoff_factor=0.1, raise_on_status=False, raise_on_redirect=False,
    )


class _TLSAdapter(HTTPAdapter):
    """Applies the Connection's TLS mode to every request, whatever `verify` a caller might pass."""

    def __init__(self, connection: Connection):
        self._connection = connection
        super().__init__(max_retries=_retry_policy(), pool_connections=1, pool_maxsize=4)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = ssl_context(self._connection)
        if self._connection.tls_mode == "fingerprint":
            # Pinning replaces CA and hostname validation (as Proxmox's own tools do); urllib3 checks the leaf.
            kwargs["assert_fingerprint"] = self._connection.fingerprint
            kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)

    def send(self, request, **kwargs):
        kwargs["verify"] = self._connection.tls_mode != "fingerprint"
        return super().send(request, **kwargs)


def _reason(exc: BaseException) -> BaseException:
    """The urllib3 error a requests exception wraps (through MaxRetryError), for classification."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    return getattr(inner, "reason", None) or inner


def _translate_transport_error(exc: requests.RequestException, connection: Connection) -> ProxmoxError:
    where = connection.netloc
    if isinstance(exc, requests.exceptions.SSLError):
        return _tls_failure(str(_reason(exc)), connection)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TimedOut(f"Could not connect to {where} within {connection.timeout:g} s.")
    if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(_reason(exc), ReadTimeoutError):
        return TimedOut(f"{where} did not answer within {connection.timeout:g} s.")
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = _reason(exc)
        if isinstance(reason, NameResolutionError):
            return Unreachable(f"Cannot resolve the host name {connection.host!r}.")
        if isinstance(reason, NewConnectionError):
            return Unreachable(f"Cannot connect to {where}: connection refused or no route to host.")
        return Unreachable(f"The connection to {where} was closed before a complete answer arrived.")
    return ProxmoxAPIError(f"Request to {where} failed: {type(exc).__name__}.")


def _fingerprint_mismatch(expected: str, presented: str, connection: Connection) -> TLSFailure:
    return TLSFailure(
        f"The TLS certificate of {connection.netloc} does not match the pinned fingerprint: expected {expected}, "
        f"the server presented {presented}. If the certificate was renewed, check and update the pin.",
        expected=expected, presented=presented,
    )


def _tls_failure(detail: str, connection: Connection) -> TLSFailure:
    where = connection.netloc
    mismatch = _FINGERPRINT_MISMATCH.search(detail)  # urllib3's assert_fingerprint message
    if mismatch:
        return _fingerprint_mismatch(normalise_fingerprint(mismatch.group(1)),
                                     normalise_fingerprint(mismatch.group(2)), connection)
    if "CERTIFICATE_VERIFY_FAILED" in detail or "certificate verify failed" in detail:
        why = detail.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" ')\"")
        return TLSFailure(
            f"The TLS certificate of {where} is not trusted ({why}). Configure its CA certificate or pin its "
            "fingerprint."
        )
    return TLSFailure(f"TLS handshake with {where} failed ({_clean(detail, 200)}).")


def _clean(text: Any, limit: int = 500) -> str:
    """Server-provided text made safe to show: printable, bounded."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_from_response(status: int, reason: str, body: Any, connection: Connection) -> ProxmoxError:
    message = ""
    errors: dict[str, str] = {}
    if isinstance(body, dict):
        message = _clean(body.get("message") or "")
        if isinstance(body.get("errors"), dict):
            errors = {_clean(k, 100): _clean(v) for k, v in body["errors"].items()}
    # Proxmox puts its message in the status line too ("HTTP/1.1 403 Permission check failed (...)").
    message = message or _clean(reason or "")
    where = connection.netloc
    if status == 401:
        return AuthenticationFailed(
            f"{where} refused the API token {connection.token_id} ({message or 'authentication failure'}). "
            "Check the token id and secret.",
            status=status,
        )
    if status == 403:
        return PermissionDenied(
            f"The API token is missing a privilege on {where}: {message or 'permission denied'}.",
            status=status, proxmox_message=message,
        )
    if status in (404, 501) or "does not exist" in message or "no such" in message.lower():
        return NotFound(f"Not found on {where}: {message or 'no such object'}.", status=status)
    if errors:
        details = "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))
        return ProxmoxAPIError(f"{where} rejected the request: {message} ({details})", status=status, errors=errors)
    return ProxmoxAPIError(f"{where} answered HTTP {status}: {message or 'no message'}", status=status)


# ----------------------------------------------------------------------------------------------- API explorer list


@functools.cache
def _get_path_patterns() -> tuple[re.Pattern[str], ...]:
    templates = Path(__file__).with_name("pve_get_paths.txt").read_text().split()
    return tuple(re.compile(re.sub(r"\\\{[^}]*\\\}", _SEGMENT, re.escape(t))) for t in templates)


def is_allowed_get_path(path: str) -> bool:
    """True when `path` is a concrete instance of a GET path in Proxmox's API schema, with safe segments only."""
    if not path.startswith("/") or path.endswith("/") and path != "/":
        return False
    if any(segment in (".", "..") for segment in path.split("/")[1:]):
        return False
    return any(pattern.fullmatch(path) for pattern in _get_path_patterns())


def _check_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in (params or {}).items():
        if not isinstance(name, str) or not _PARAM_NAME.fullmatch(name):
            raise InvalidRequest(f"Invalid parameter name {_clean(name, 80)!r}.")
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, (str, int, float)) or len(str(value)) > 1024 or re.search(r"[\x00-\x1f]", str(value)):
            raise InvalidRequest(f"Invalid value for parameter {name!r}.")
        checked[name] = str(value)
    return checked


# --------------------------------------------------------------------------------------------------------- client


@dataclass(frozen=True)
class PrivilegeReport:
    """What a token may do, compared to what the broker needs."""

    missing: tuple[str, ...]  # required privileges granted on no path at all
    excessive: tuple[str, ...]  # privileges beyond what the broker needs
    granted: Mapping[str, tuple[str, ...]]  # privilege -> paths it is granted on

    @property
    def ok(self) -> bool:
        return not self.missing and not self.excessive

    @property
    def far_more_than_needed(self) -> bool:
        return bool(HIGH_RISK_PRIVILEGES.intersection(self.excessive)) or len(self.excessive) >= 5

    @property
    def summary(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"Missing privileges the broker needs: {', '.join(self.missing)}.")
        if self.far_more_than_needed:
            parts.append(
                f"The token has far more privileges than needed ({', '.join(self.excessive)}); a leaked secret would "
                "expose the whole cluster. Give it only the PVEVMUser role, or VM.Audit, VM.PowerMgmt and VM.Console."
            )
        elif self.excessive:
            parts.append(f"The token has privileges the broker does not need: {', '.join(self.excessive)}.")
        return " ".join(parts) or "The token has exactly the privileges the broker needs."


def privilege_report(permissions: Mapping[str, Mapping[str, Any]]) -> PrivilegeReport:
    """Compare an /access/permissions answer ({path: {privilege: propagate}}) with what the broker needs."""
    granted: dict[str, list[str]] = {}
    for path, privileges in permissions.items():
        for privilege in privileges if isinstance(privileges, Mapping) else ():
            granted.setdefault(privilege, []).append(path)
    missing = tuple(p for p in REQUIRED_PRIVILEGES if p not in granted)
    allowed = TOLERATED_PRIVILEGES.union(REQUIRED_PRIVILEGES)
    excessive = tuple(sorted(p for p in granted if p not in allowed))
    return PrivilegeReport(missing, excessive, {p: tuple(sorted(paths)) for p, paths in sorted(granted.items())})


def _check_guest(node: str, kind: str, vmid: int) -> None:
    if not isinstance(node, str) or not _NODE.fullmatch(node):
        raise InvalidRequest(f"Invalid node name {_clean(node, 80)!r}.")
    if kind not in KINDS:
        raise InvalidRequest(f"Invalid guest type {_clean(kind, 80)!r}: use 'qemu' or 'lxc'.")
    if isinstance(vmid, bool) or not isinstance(vmid, int) or not 100 <= vmid <= 999_999_999:
        raise InvalidRequest(f"Invalid VM id {_clean(vmid, 80)!r}: an integer from 100 to 999999999.")


class ProxmoxClient:
    """A session against one Proxmox VE endpoint, authenticated with an API token."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self._session = requests.Session()
        # No proxies, netrc or REQUESTS_CA_BUNDLE from the environment: TLS and auth are decided by the Connection.
        self._session.trust_env = False
        self._session.headers.update({
            "Authorization": connection.authorization,
            "Accept": "application/json",
            "User-Agent": "proxmox-vnc-nexus",
        })
        self._session.mount("https://", _TLSAdapter(connection))

    def __repr__(self) -> str:
        return f"<ProxmoxClient {self.connection.base_url} token={self.connection.token_id}>"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ProxmoxClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- transport

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                 data: Mapping[str, Any] | None = None) -> Any:
        url = self.connection.base_url + path
        timeout = self.connection.timeout
        started = time.monotonic()
        try:
            response = self._session.request(
                method, url, params=params, data=data, timeout=(timeout, timeout), stream=True,
                allow_redirects=False,
            )
            try:
                raw = self._read_body(response)
            finally:
                response.close()
        except requests.RequestException as exc:
            error = _translate_transport_error(exc, self.connection)
            logger.info("Proxmox %s %s%s failed: %s", method, self.connection.netloc, path, error.message)
            raise error from None
        logger.debug("Proxmox %s %s%s -> %s in %.0f ms", method, self.connection.netloc, path,
                     response.status_code, (time.monotonic() - started) * 1000)
        return self._unwrap(response, raw)

    def _read_body(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
            raise self._too_big()
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise self._too_big()
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_big(self) -> ProxmoxAPIError:
        return ProxmoxAPIError(
            f"{self.connection.netloc} sent an answer larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB; refused."
        )

    def _unwrap(self, response: requests.Response, raw: bytes) -> Any:
        status = response.status_code
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting from a hostile server
            body = None
            if 200 <= status < 300:
                kind = _clean(response.headers.get("Content-Type", "unknown type"), 80)
                raise ProxmoxAPIError(
                    f"{self.connection.netloc} answered with something that is not JSON ({kind}); is this really "
                    "a Proxmox VE API endpoint?", status=status,
                ) from None
        if not 200 <= status < 300:
            raise _error_from_response(status, response.reason, body, self.connection)
        if not isinstance(body, dict) or "data" not in body:
            raise ProxmoxAPIError(
                f"{self.connection.netloc} answered without a 'data' field; is this really a Proxmox VE API endpoint?",
                status=status,
            )
        return body["data"]

    def _expect(self, value: Any, kind: type, what: str) -> Any:
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, dict) for v in value)):
            raise ProxmoxAPIError(f"{self.connection.netloc} returned an unexpected shape for {what}.")
        return value

    def _get(self, path: str, kind: type, what: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._expect(self._request("GET", path, params=params), kind, what)

    def _post(self, path: str, kind: type, what: str, data: Mapping[str, Any] | None = None) -> Any:
        return self._expect(self._request("POST", path, data=data), kind, what)

    # -- reads

    def version(self) -> dict:
        return self._get("/version", dict, "the version")

    def nodes(self) -> list[dict]:
        return self._get("/nodes", list, "the node list")

    def guests(self) -> list[dict]:
        """Every guest of the cluster the token may audit, in one call."""
        return self._get("/cluster/resources", list, "the guest list", params={"type": "vm"})

    def guest_status(self, node: str, kind: str, vmid: int) -> dict:
        _check_guest(node, kind, vmid)
        return self._get(f"/nodes/{node}/{kind}/{vmid}/status/current", dict, f"the status of {kind} {vmid}")

    def task_status(self, node: str, upid: str) -> dict:
        if not isinstance(node, str) or not _NODE.fullmatch(node):
            raise InvalidRequest(f"Invalid node name {_clean(node, 80)!r}.")
        if not isinstance(upid, str) or not _UPID.fullmatch(upid):
            raise InvalidRequest(f"Invalid task id {_clean(upid, 120)!r}.")
        return self._get(f"/nodes/{node}/tasks/{urllib.parse.quote(upid, safe=':@!=')}/status", dict, "the task status")

    def permissions(self) -> dict:
        return self._get("/access/permissions", dict, "the token permissions")

    def token_privilege_report(self) -> PrivilegeReport:
        return privilege_report(self.permissions())

    def api_get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Read-only GET for the API explorer, limited to the GET paths of Proxmox's published API schema."""
        if not isinstance(path, str) or not is_allowed_get_path(path):
            raise InvalidRequest(
                f"{_clean(path, 120)!r} is not a readable Proxmox API path: it must match a GET path of the "
                "Proxmox VE API schema, e.g. /nodes/pve/qemu/100/status/current."
            )
        return self._request("GET", path, params=_check_params(params))

    # -- actions

    def power(self, node: str, kind: str, vmid: int, action: str) -> str:
        """Start a power action; returns the task's UPID."""
        _check_guest(node, kind, vmid)
        if action not in POWER_ACTIONS:
            raise InvalidRequest(f"Unknown power action {_clean(action, 40)!r}: use one of {', '.join(POWER_ACTIONS)}.")
        if action == "reset" and kind == "lxc":
            raise InvalidRequest("Containers (LXC) cannot be reset; use reboot, or stop then start.")
        upid = self._post(f"/nodes/{node}/{kind}/{vmid}/status/{action}", str, f"the {action} task")
        if not upid.startswith("UPID:"):
            raise ProxmoxAPIError(f"{self.connection.netloc} returned no task id for {action}.")
        return upid

    def vncproxy(self, node: str, kind: str, vmid: int, *, width: int | None = None,
                 height: int | None = None) -> dict:
        """Open a VNC proxy for a WebSocket relay: {user, ticket, port, upid, cert[, password]}.

        `width`/`height` (pixels) only exist for containers; they are clamped to Proxmox's limits and ignored for
        QEMU, whose display size the guest decides.
        """
        _check_guest(node, kind, vmid)
        data: dict[str, Any] = {"websocket": 1}
        if kind == "lxc":
            if width is not None:
                data["width"] = min(max(int(width), 16), 4096)
            if height is not None:
                data["height"] = min(max(int(height), 16), 2160)
        ticket = self._post(f"/nodes/{node}/{kind}/{vmid}/vncproxy", dict, "the console ticket", data)
        self._check_console_ticket(ticket)
        return ticket

    def termproxy(self, node: str, kind: str, vmid: int, *, serial: str | None = None) -> dict:
        """Open a terminal proxy: {user, ticket, port, upid}. `serial` (serial0..serial3) is QEMU only."""
        _check_guest(node, kind, vmid)
        data: dict[str, Any] = {}
        if serial is not None:
            if kind != "qemu" or serial not in ("serial0", "serial1", "serial2", "serial3"):
                raise InvalidRequest("A serial terminal is serial0..serial3 and exists for QEMU guests only.")
            data["serial"] = serial
        ticket = self._post(f"/nodes/{node}/{kind}/{vmid}/termproxy", dict, "the terminal ticket", data)
        self._check_console_ticket(ticket)
        return ticket

    def _check_console_ticket(self, ticket: dict) -> None:
        port = ticket.get("port")
        try:
            port_ok = 1 <= int(port) <= 65535
        except (TypeError, ValueError):
            port_ok = False
        if not port_ok or not isinstance(ticket.get("ticket"), str) or not ticket["ticket"]:
            raise ProxmoxAPIError(f"{self.connection.netloc} returned a console ticket without a usable port/ticket.")


# -------------------------------------------------------------------------------------------- trust on first use


def fetch_fingerprint(host: str, port: int = 8006, timeout: float = 10.0) -> str:
    """SHA-256 'AA:BB:...' of the certificate `host:port` presents, read WITHOUT verification.

    For trust on first use only: show it to the operator to compare with the one Proxmox displays; never pin it
    automatically. No HTTP request (and so no token) is sent.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except socket.gaierror:
        raise Unreachable(f"Cannot resolve the host name {host!r}.") from None
    except (TimeoutError, socket.timeout):
        raise TimedOut(f"{where} did not complete a TLS handshake within {timeout:g} s.") from None
    except ssl.SSLError as exc:
        raise TLSFailure(f"TLS handshake with {where} failed ({_clean(exc.reason or exc, 200)}).") from None
    except OSError as exc:
        raise Unreachable(f"Cannot connect to {where}: {_clean(exc.strerror or exc, 200)}.") from None
    if not der:
        raise TLSFailure(f"{where} presented no certificate.")
    return certificate_fingerprint(der)


# ------------------------------------------------------------------------------------------------------- fan-out

K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True)
class FanOutResult(Generic[T]):
    value: T | None
    error: ProxmoxError | None
    elapsed: float  # seconds from this server's start until its answer (or until it was given up)

    @property
    def ok(self) -> bool:
        return self.error is None


def fan_out(connections: Mapping[K, Connection], call: Callable[[ProxmoxClient], T], *,
            max_workers: int = 16) -> dict[K, FanOutResult[T]]:
    """Run `call(client)` against every connection concurrently.

    Each server gets its own `connection.timeout` as a budget for the whole call, counted from when its turn
    starts; the function returns at the latest about max(timeout) after it was called, whatever a server does
    (hang, trickle bytes). A server past its budget is reported as TimedOut and its thread is abandoned (a daemon
    thread that ends at its socket's own timeout). Proxmox errors become `.error`; any other exception is a bug
    in `call` and is re-raised here.
    """
    keys = list(connections)
    if not keys:
        return {}
    start = time.monotonic()
    final_deadline = start + max(c.timeout for c in connections.values()) + FAN_OUT_GRACE
    pending = iter(keys)
    started: dict[K, float] = {}
    results: dict[K, FanOutResult[T]] = {}
    bugs: list[BaseException] = []
    cond = threading.Condition()

    def worker() -> None:
        while True:
            with cond:
                key = next(pending, None)
                if key is None or time.monotonic() >= final_deadline:
                    return
                started[key] = t0 = time.monotonic()
            value, error = None, None
            try:
                with ProxmoxClient(connections[key]) as client:
                    value = call(client)
            except ProxmoxError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - handed to the caller's thread below
                error = ProxmoxAPIError("Internal error while querying this server.")
                with cond:
                    bugs.append(exc)
            with cond:
                results.setdefault(key, FanOutResult(value, error, time.monotonic() - t0))
                cond.notify_all()

    for index in range(min(max_workers, len(keys))):
        threading.Thread(target=worker, name=f"proxmox-fan-out-{index}", daemon=True).start()

    with cond:
        while len(results) < len(keys):
            now = time.monotonic()
            wake = final_deadline
            for key in keys:
                if key in results:
                    continue
                t0 = started.get(key)
                budget = connections[key].timeout
                deadline = final_deadline if t0 is None else min(t0 + budget + FAN_OUT_GRACE, final_deadline)
                if now >= deadline:
                    waited = now - (start if t0 is None else t0)
                    results[key] = FanOutResult(None, TimedOut(
                        f"{connections[key].netloc} gave no complete answer within {budget:g} s."
                    ), waited)
                else:
                    wake = min(wake, deadline)
            if len(results) < len(keys):
                cond.wait(max(wake - now, 0.001))
        if bugs:
            raise bugs[0]
    return {key: results[key] for key in keys}


# ------------------------------------------------------------------------------------------- console WebSocket


class _NoDebugLogger(logging.LoggerAdapter):
    """websockets logs every handshake header at DEBUG, the Authorization header included; never let it."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


@dataclass
class _Pin:
    expected: str
    presented: str = ""

    @property
    def mismatch(self) -> bool:
        return bool(self.presented) and self.presented != self.expected


class _PinnedClientConnection(ClientConnection):
    """Checks the leaf certificate right after the TLS handshake, before the HTTP request is written."""

    def __init__(self, *args, pin: _Pin, **kwargs):
        super().__init__(*args, **kwargs)
        self._pin = pin

    def connection_made(self, transport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        self._pin.presented = certificate_fingerprint(der) if der else "(no certificate)"
        if self._pin.mismatch:
            # Abort first: nothing is ever written to this transport, so the token never leaves.
            transport.abort()
        super().connection_made(transport)


class _NoRedirectConnect(websockets_connect):
    # The Authorization header would follow a redirect to another host; Proxmox never redirects here.
    def process_redirect(self, exc: Exception) -> Exception:
        return exc


def vncwebsocket_url(connection: Connection, node: str, kind: str, vmid: int, *, port: int, ticket: str) -> str:
    """The wss:// URL of a console's vncwebsocket; it carries the ticket, so never log it."""
    _check_guest(node, kind, vmid)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidRequest(f"Invalid console port {_clean(port, 40)!r}.")
    if not isinstance(ticket, str) or not ticket or len(ticket) > 512:
        raise InvalidRequest("Invalid console ticket.")
    query = urllib.parse.urlencode({"port": port, "vncticket": ticket})
    return f"wss://{connection.netloc}/api2/json/nodes/{node}/{kind}/{vmid}/vncwebsocket?{query}"


async def open_vnc_websocket(connection: Connection, node: str, kind: str, vmid: int, *, port: int, ticket: str):
    """Open the upstream console WebSocket (vncwebsocket) with the token, subprotocol 'binary' and the same TLS mode.

    Must follow the vncproxy/termproxy call that issued `port`/`ticket`, to the same host, with the same token.
    Returns a `websockets.asyncio.client.ClientConnection`; the caller relays and closes it.
    """
    uri = vncwebsocket_url(connection, node, kind, vmid, port=port, ticket=ticket)
    options: dict[str, Any] = {}
    pin = None
    if connection.tls_mode == "fingerprint":
        pin = _Pin(connection.fingerprint)
        options["create_connection"] = functools.partial(_PinnedClientConnection, pin=pin)
    where = connection.netloc
    try:
        return await _NoRedirectConnect(
            uri,
            additional_headers={"Authorization": connection.authorization},
            subprotocols=["binary"],
            ssl=ssl_context(connection),
            compression=None,
            ping_interval=None,
            max_size=WEBSOCKET_MAX_SIZE,
            open_timeout=connection.timeout,
            proxy=None,
            user_agent_header="proxmox-vnc-nexus",
            logger=_NoDebugLogger(logging.getLogger("websockets.client"), {}),
            **options,
        )
    except Exception as exc:
        if pin is not None and pin.mismatch:
            raise _fingerprint_mismatch(pin.expected, pin.presented, connection) from None
        error = _translate_websocket_error(exc, connection)
        logger.info("Proxmox console WebSocket to %s for %s %s failed: %s", where, kind, vmid, error.message)
        raise error from None


def _translate_websocket_error(exc: Exception, connection: Connection) -> ProxmoxError:
    where = connection.netloc
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status == 401:
            return AuthenticationFailed(
                f"{where} refused the console ticket (401): it expired (tickets last about 40 s), or was issued by "
                "another host or for another token.", status=status,
            )
        body = exc.response.body or b""
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        return _error_from_response(status, exc.response.reason_phrase, parsed, connection)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _tls_failure(f"certificate verify failed: {exc.verify_message}", connection)
    if isinstance(exc, ssl.SSLError):
        return _tls_failure(str(exc.reason or exc), connection)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TimedOut(f"The console connection to {where} did not open within {connection.timeout:g} s.")
    if isinstance(exc, socket.gaierror):
        return Unreachable(f"Cannot resolve the host name {connection.host!r}.")
    if isinstance(exc, ConnectionRefusedError):
        return Unreachable(f"Cannot connect to {where}: connection refused.")
    if isinstance(exc, OSError):
        return Unreachable(f"Cannot connect to {where}: {_clean(exc.strerror or exc, 200)}.")
    if isinstance(exc, InvalidHandshake):
        return ProxmoxAPIError(f"{where} did not accept the console WebSocket: {_clean(exc, 200)}.")
    return ProxmoxAPIError(f"The console connection to {where} failed: {type(exc).__name__}.")

