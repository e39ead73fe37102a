"""What went wrong, in words: every failure of a call to Proxmox becomes the ProxmoxError that says why."""

from __future__ import annotations

import json
import re
import socket
import ssl
from typing import Any

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError, ReadTimeoutError
from websockets.exceptions import InvalidHandshake, InvalidStatus

from .connection import Connection, normalise_fingerprint
from .errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    ProxmoxAPIError,
    ProxmoxError,
    TimedOut,
    TLSFailure,
    Unreachable,
    clean_text,
)

_FINGERPRINT_MISMATCH = re.compile(r'Expected "([0-9a-fA-F]+)", got "([0-9a-fA-F]+)"')


def fingerprint_mismatch(expected: str, presented: str, connection: Connection) -> TLSFailure:
    return TLSFailure(
        f"The TLS certificate of {connection.netloc} does not match the pinned fingerprint: expected {expected}, "
        f"the server presented {presented}. If the certificate was renewed, check and update the pin.",
        expected=expected, presented=presented,
    )


def tls_failure(detail: str, connection: Connection) -> TLSFailure:
    where = connection.netloc
    mismatch = _FINGERPRINT_MISMATCH.search(detail)  # urllib3's assert_fingerprint message
    if mismatch:
        return fingerprint_mismatch(normalise_fingerprint(mismatch.group(1)),
                                    normalise_fingerprint(mismatch.group(2)), connection)
    if "CERTIFICATE_VERIFY_FAILED" in detail or "certificate verify failed" in detail:
        why = detail.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" ')\"")
        return TLSFailure(
            f"The TLS certificate of {where} is not trusted ({why}). Configure its CA certificate or pin its "
            "fingerprint."
        )
    return TLSFailure(f"TLS handshake with {where} failed ({clean_text(detail, 200)}).")


def error_from_response(status: int, reason: str, body: Any, connection: Connection) -> ProxmoxError:
    message = ""
    errors: dict[str, str] = {}
    if isinstance(body, dict):
        message = clean_text(body.get("message") or "")
        if isinstance(body.get("errors"), dict):
            errors = {clean_text(k, 100): clean_text(v) for k, v in body["errors"].items()}
    # Proxmox puts its message in the status line too ("HTTP/1.1 403 Permission check failed (...)").
    message = message or clean_text(reason or "")
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


def _reason(exc: BaseException) -> BaseException:
    """The urllib3 error a requests exception wraps (through MaxRetryError), for classification."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    return getattr(inner, "reason", None) or inner


def translate_transport_error(exc: requests.RequestException, connection: Connection) -> ProxmoxError:
    where = connection.netloc
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_failure(str(_reason(exc)), connection)
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


def translate_websocket_error(exc: Exception, connection: Connection) -> ProxmoxError:
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
        return error_from_response(status, exc.response.reason_phrase, parsed, connection)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return tls_failure(f"certificate verify failed: {exc.verify_message}", connection)
    if isinstance(exc, ssl.SSLError):
        return tls_failure(str(exc.reason or exc), connection)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TimedOut(f"The console connection to {where} did not open within {connection.timeout:g} s.")
    if isinstance(exc, socket.gaierror):
        return Unreachable(f"Cannot resolve the host name {connection.host!r}.")
    if isinstance(exc, ConnectionRefusedError):
        return Unreachable(f"Cannot connect to {where}: connection refused.")
    if isinstance(exc, OSError):
        return Unreachable(f"Cannot connect to {where}: {clean_text(exc.strerror or exc, 200)}.")
    if isinstance(exc, InvalidHandshake):
        return ProxmoxAPIError(f"{where} did not accept the console WebSocket: {clean_text(exc, 200)}.")
    return ProxmoxAPIError(f"The console connection to {where} failed: {type(exc).__name__}.")
