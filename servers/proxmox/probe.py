"""The connection test: reach a Proxmox server step by step and say, per step, what worked and what did not.

    connect     the name resolves and TCP connects (to an address servers may be reached at)
    tls         the certificate presented, its SHA-256 fingerprint, and whether it matches the pin or the CA
    token       the API token authenticates (GET /version); its time is the server's response time
    version     the Proxmox version and its nodes
    privileges  what the token may do, compared with what the broker needs

`connection_test` yields each step as it completes, so a page can show them one by one. After a step fails, the
later ones are yielded as skipped with the reason. The token is sent only after the TLS identity verified: by the
pinned fingerprint, or by the CA (system or given) and host name. Without a pin the test stops at TLS and reports
the fingerprint the server presents, for the operator to compare and pin (trust on first use); it never pins.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from .client import ProxmoxClient
from .connection import Connection, certificate_fingerprint, netloc, normalise_fingerprint, ssl_context
from .errors import AuthenticationFailed, ProxmoxError
from .translate import error_from_failure, fingerprint_mismatch
from .transport import Deadline, open_socket, presented_certificate

OK, WARNING, FAILED, SKIPPED = "ok", "warning", "failed", "skipped"
# Worst first: the outcome of a whole test is that of its worst step.
OUTCOMES = (FAILED, WARNING, OK, SKIPPED)

STEPS = {
    "connect": "Name resolves and TCP connects",
    "tls": "TLS identity",
    "token": "API token authenticates",
    "version": "Proxmox version and nodes",
    "privileges": "Token privileges",
}
# A connection whose fingerprint is not pinned yet is built with this one; it never matches a certificate (SHA-256
# of nothing presentable), and the test stops before any call that would use it.
_NO_PIN = ":".join(["00"] * 32)


@dataclass(frozen=True)
class Step:
    key: str
    outcome: str  # ok | warning | failed | skipped
    message: str
    elapsed_ms: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return STEPS[self.key]

    def as_dict(self) -> dict:
        return {
            "step": self.key,
            "title": self.title,
            "outcome": self.outcome,
            "message": self.message,
            "elapsed_ms": self.elapsed_ms,
            "details": dict(self.details),
        }


def outcome_of(steps: list[Step]) -> str:
    """The outcome of a whole test: its worst step's."""
    return next((outcome for outcome in OUTCOMES if any(step.outcome == outcome for step in steps)), SKIPPED)


class _Stop(Exception):
    """A step failed; the steps after it are skipped for `reason`."""

    def __init__(self, step: Step, reason: str):
        super().__init__(step.message)
        self.step = step
        self.reason = reason


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _stop(key: str, message: str, started: float, reason: str, details: Mapping[str, Any] | None = None) -> _Stop:
    return _Stop(Step(key, FAILED, message, _ms(started), details or {}), reason)


def connection_test(settings: Mapping[str, Any]) -> Iterator[Step]:
    """Test a server's connection settings (the fields of Connection), yielding each step as it completes.

    In fingerprint mode the fingerprint may be missing (trust on first use): the test then stops at TLS and
    reports the presented one. ConfigurationError, before any step, when the settings themselves are unusable.
    """
    pinned = ""
    if settings.get("tls_mode") == "fingerprint":
        pinned = normalise_fingerprint(settings["fingerprint"]) if settings.get("fingerprint") else ""
        settings = {**settings, "fingerprint": pinned or _NO_PIN}
    connection = Connection(**settings)
    done: list[str] = []
    try:
        sock, step = _connect(connection)
        done.append(step.key)
        yield step
        step = _tls(connection, pinned, sock)
        done.append(step.key)
        yield step
        with ProxmoxClient(connection) as client:
            step, version = _token(client)
            done.append(step.key)
            yield step
            for check in (lambda: _version(client, version), lambda: _privileges(client)):
                step = check()
                done.append(step.key)
                yield step
    except _Stop as stop:
        yield stop.step
        done.append(stop.step.key)
        for key in STEPS:
            if key not in done:
                yield Step(key, SKIPPED, stop.reason)


def _connect(connection: Connection):
    started = time.monotonic()
    try:
        sock = open_socket(connection.host, connection.port, connection.timeout, connection.denied_networks)
    except ProxmoxError as error:
        raise _stop("connect", error.message, started, "Not tried: the server is not reachable.") from None
    address = sock.getpeername()[0]
    shown = connection.host if connection.host == address else f"{connection.host} ({address})"
    step = Step("connect", OK, f"Connected to {netloc(shown, connection.port)}.", _ms(started), {"address": address})
    return sock, step


_NOT_VERIFIED = "Not tried: the token is only ever sent to a server whose TLS identity was verified."


def _tls(connection: Connection, pinned: str, sock) -> Step:
    started = time.monotonic()
    host, port = connection.host, connection.port
    try:
        der = presented_certificate(sock, host, port, Deadline(connection.timeout, connection.netloc))
    except ProxmoxError as error:
        raise _stop("tls", error.message, started, _NOT_VERIFIED) from None
    presented = certificate_fingerprint(der)
    details = {**_describe(der), "fingerprint": presented, "mode": connection.tls_mode, "pinned": pinned}
    if connection.tls_mode == "fingerprint":
        details["matches_pin"] = presented == pinned if pinned else None
        if not pinned:
            message = (
                f"No fingerprint is pinned yet. The server presents {presented}: compare it with the one Proxmox "
                "shows (node > System > Certificates) and pin it if they are the same."
            )
            raise _stop("tls", message, started, _NOT_VERIFIED, details)
        if presented != pinned:
            message = fingerprint_mismatch(pinned, presented, connection.netloc).message
            raise _stop("tls", message, started, _NOT_VERIFIED, details)
        return Step("tls", OK, f"The certificate matches the pinned fingerprint {pinned}.", _ms(started), details)
    try:
        _verified_handshake(connection)
    except ProxmoxError as error:
        details["verified"] = False
        raise _stop("tls", error.message, started, _NOT_VERIFIED, details) from None
    details["verified"] = True
    by = "the given CA certificate" if connection.tls_mode == "ca" else "the system's certificate authorities"
    return Step("tls", OK, f"The certificate is trusted by {by} for {host}.", _ms(started), details)


def _verified_handshake(connection: Connection) -> None:
    """A TLS handshake that verifies the chain and the host name, as the API calls will."""
    host, port = connection.host, connection.port
    deadline = Deadline(connection.timeout, connection.netloc)
    sock = open_socket(host, port, connection.timeout, connection.denied_networks)
    try:
        with sock:
            sock.settimeout(deadline.remaining())
            with ssl_context(connection).wrap_socket(sock, server_hostname=host):
                pass
    except OSError as exc:
        raise error_from_failure(exc, host, port, connection.timeout) from None


def _describe(der: bytes) -> dict:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return {}
    now = datetime.datetime.now(datetime.UTC)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "expired": cert.not_valid_after_utc < now,
        "self_signed": cert.subject == cert.issuer,
    }


def _token(client: ProxmoxClient):
    started = time.monotonic()
    try:
        version = client.version()
    except AuthenticationFailed as error:
        raise _stop("token", error.message, started, "Not tried: the token was refused.") from None
    except ProxmoxError as error:
        raise _stop("token", error.message, started, "Not tried: the server did not answer.") from None
    elapsed = _ms(started)
    message = f"{client.connection.token_id} is accepted; the server answered in {elapsed} ms."
    return Step("token", OK, message, elapsed, {"response_time_ms": elapsed}), version


def _version(client: ProxmoxClient, version: Mapping[str, Any]) -> Step:
    started = time.monotonic()
    try:
        nodes = client.nodes()
    except ProxmoxError as error:
        return Step("version", FAILED, error.message, _ms(started))
    online = sum(1 for node in nodes if node.get("status") == "online")
    release = str(version.get("version") or version.get("release") or "unknown")
    message = f"Proxmox VE {release}, {len(nodes)} node{'s' if len(nodes) != 1 else ''} ({online} online)."
    details = {"version": release, "nodes": len(nodes), "online_nodes": online}
    return Step("version", OK if nodes else WARNING, message, _ms(started), details)


def _privileges(client: ProxmoxClient) -> Step:
    started = time.monotonic()
    try:
        report = client.token_privilege_report()
    except ProxmoxError as error:
        return Step("privileges", FAILED, error.message, _ms(started))
    outcome = FAILED if report.missing else WARNING if report.excessive else OK
    details = {"missing": list(report.missing), "excessive": list(report.excessive)}
    return Step("privileges", outcome, report.summary, _ms(started), details)


def result_of(steps: list[Step]) -> dict:
    """A finished test as data: its outcome, response time and steps."""
    token = next((step for step in steps if step.key == "token" and step.outcome == OK), None)
    return {
        "outcome": outcome_of(steps),
        "response_time_ms": token.elapsed_ms if token else None,
        "steps": [step.as_dict() for step in steps],
    }
