"""The errors this package raises. Which one a failure becomes is decided in `translate.py`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


class ProxmoxError(Exception):
    """Base of every error this package raises; `.message` is fit to show to an operator."""

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


class DeniedAddress(Unreachable):
    """The server's address lies in a range servers may never be reached at (link-local, cloud metadata, or one
    the operator denied): nothing was sent."""


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


class GuestNotRunning(ProxmoxAPIError):
    """Proxmox refused because the guest is not running ("VM 100 not running"): no console, no shutdown."""


class ConsoleClosed(ProxmoxError):
    """Proxmox's end of an open console is gone: nothing more can be received from or sent to it."""


def clean_text(text: Any, limit: int = 500) -> str:
    """Server-provided text made safe to show: printable, bounded."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
