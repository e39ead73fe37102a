"""What went wrong, in words: every failure of a call to Proxmox becomes the ProxmoxError that says why.

Two functions, shared by the HTTP calls (requests), the console WebSocket (websockets) and the bare TLS handshake
of the certificate fetch: `error_from_answer` for an answer Proxmox gave (an HTTP status and body), and
`error_from_failure` for a call that got none (TLS, timeout, name resolution, refused or dropped connection).
"""

from __future__ import annotations

import re
import socket
import ssl
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError
from websockets.exceptions import InvalidHandshake

from . import errors
from .connection import Connection, netloc, normalise_fingerprint
from .errors import clean_text

# qemu-server and pve-container refuse with "VM 100 not running" / "CT 200 not running" (HTTP 500).
_NOT_RUNNING = re.compile(r"\b(?:VM|CT) \d+ not running\b")
_FINGERPRINT_MISMATCH = re.compile(r'Expected "([0-9a-fA-F]+)", got "([0-9a-fA-F]+)"')


def error_from_answer(
    status: int, reason: str, body: Any, connection: Connection, *, console_ticket: bool = False
) -> errors.ProxmoxError:
    """The error for an HTTP answer that is not a success; `console_ticket`: the call presented a vncwebsocket
    ticket, so a 401 is about the ticket rather than the token."""
    message = ""
    parameter_errors: dict[str, str] = {}
    if isinstance(body, dict):
        message = clean_text(body.get("message") or "")
        if isinstance(body.get("errors"), dict):
            parameter_errors = {clean_text(k, 100): clean_text(v) for k, v in body["errors"].items()}
    # Proxmox puts its message in the status line too ("HTTP/1.1 403 Permission check failed (...)").
    message = message or clean_text(reason or "")
    where = connection.netloc
    if status == 401 and console_ticket:
        return errors.AuthenticationFailed(
            f"{where} refused the console ticket (401): it expired (tickets last about 40 s), or was issued by "
            "another host or for another token.",
            status=status,
        )
    if status == 401:
        return errors.AuthenticationFailed(
            f"{where} refused the API token {connection.token_id} ({message or 'authentication failure'}). "
            "Check the token id and secret.",
            status=status,
        )
    if status == 403:
        return errors.PermissionDenied(
            f"The API token is missing a privilege on {where}: {message or 'permission denied'}.",
            status=status,
            proxmox_message=message,
        )
    if status in (404, 501) or "does not exist" in message or "no such" in message.lower():
        return errors.NotFound(f"Not found on {where}: {message or 'no such object'}.", status=status)
    if _NOT_RUNNING.search(message):
        return errors.GuestNotRunning(f"{where} answered HTTP {status}: {message}", status=status)
    if parameter_errors:
        details = "; ".join(f"{k}: {v}" for k, v in sorted(parameter_errors.items()))
        return errors.ProxmoxAPIError(
            f"{where} rejected the request: {message} ({details})", status=status, errors=parameter_errors
        )
    return errors.ProxmoxAPIError(f"{where} answered HTTP {status}: {message or 'no message'}", status=status)


def error_from_failure(exc: BaseException, host: str, port: int, timeout: float) -> errors.ProxmoxError:
    """The error for a call to host:port that got no answer, whichever library raised `exc`."""
    where = netloc(host, port)
    cause = _cause(exc)
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(cause, (ssl.SSLError, Urllib3SSLError)):
        return tls_failure(str(cause), where)
    if isinstance(exc, requests.exceptions.ConnectTimeout) or (
        isinstance(cause, ConnectTimeoutError) and not isinstance(cause, NewConnectionError)
    ):
        return errors.TimedOut(f"Could not connect to {where} within {timeout:g} s.")
    if isinstance(exc, requests.exceptions.Timeout) or isinstance(cause, (TimeoutError, ReadTimeoutError)):
        return errors.TimedOut(f"{where} did not answer within {timeout:g} s.")
    if isinstance(cause, (NameResolutionError, socket.gaierror)):
        return errors.Unreachable(f"Cannot resolve the host name {host!r}.")
    if isinstance(cause, NewConnectionError):
        return errors.Unreachable(f"Cannot connect to {where}: connection refused or no route to host.")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return errors.Unreachable(f"The connection to {where} was closed before a complete answer arrived.")
    if isinstance(cause, OSError):
        return errors.Unreachable(f"Cannot connect to {where}: {clean_text(cause.strerror or cause, 200)}.")
    if isinstance(cause, InvalidHandshake):
        return errors.ProxmoxAPIError(f"{where} did not accept the console WebSocket: {clean_text(cause, 200)}.")
    return errors.ProxmoxAPIError(f"The call to {where} failed: {type(exc).__name__}.")


def past_budget(where: str, seconds: float) -> errors.TimedOut:
    """The error for a call that was still running when its whole budget was spent."""
    return errors.TimedOut(f"{where} did not answer completely within {seconds:g} s.")


def _cause(exc: BaseException) -> BaseException:
    """What actually failed: requests wraps urllib3's error (through MaxRetryError), which may wrap the socket's."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    reason = getattr(inner, "reason", None)  # MaxRetryError's; ssl.SSLError's is a string
    return reason if isinstance(reason, BaseException) else inner


def fingerprint_mismatch(expected: str, presented: str, where: str) -> errors.TLSFailure:
    return errors.TLSFailure(
        f"The TLS certificate of {where} does not match the pinned fingerprint: expected {expected}, "
        f"the server presented {presented}. If the certificate was renewed, check and update the pin.",
        expected=expected,
        presented=presented,
    )


def tls_failure(detail: str, where: str) -> errors.TLSFailure:
    mismatch = _FINGERPRINT_MISMATCH.search(detail)  # urllib3's assert_fingerprint message
    if mismatch:
        return fingerprint_mismatch(
            normalise_fingerprint(mismatch.group(1)), normalise_fingerprint(mismatch.group(2)), where
        )
    if "CERTIFICATE_VERIFY_FAILED" in detail or "certificate verify failed" in detail:
        why = detail.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" ')\"")
        return errors.TLSFailure(
            f"The TLS certificate of {where} is not trusted ({why}). Configure its CA certificate or pin its "
            "fingerprint."
        )
    return errors.TLSFailure(f"TLS handshake with {where} failed ({clean_text(detail, 200)}).")
