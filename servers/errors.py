"""How a failing Proxmox reads to our users: the upstream's fault (502, 504 on a timeout), never theirs."""

import re

from nexus.errors import ApplicationError

from . import proxmox
from .proxmox.connection import netloc

# A certificate fingerprint as Proxmox writes it (AA:BB:...) or as bare hex.
_FINGERPRINT = re.compile(r"\b(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}\b|\b[0-9A-Fa-f]{64}\b")

_STATUS = {proxmox.TimedOut: 504, proxmox.InvalidRequest: 400, proxmox.ConfigurationError: 400}


def proxmox_failure(error: proxmox.ProxmoxError) -> ApplicationError:
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 502)
    return ApplicationError(error.message, status=status, code=f"proxmox_{type(error).__name__.lower()}")


def server_disabled(server) -> ApplicationError:
    return ApplicationError(
        f"{server.name} is disabled: it is not queried until an administrator enables it again.",
        status=409,
        code="server_disabled",
    )


def credential_unreadable(server) -> ApplicationError:
    # Keys rotated in the wrong order, or a backup restored under other keys: only entering the secret again helps.
    return ApplicationError(
        f"The API token secret of {server.name} cannot be decrypted with the configured encryption keys; "
        "an administrator must enter it again.",
        status=503,
        code="credential_unreadable",
    )


def redacted(message: str, server) -> str:
    """`message` as those who may not see how `server` is reached read it: the server's name instead of its
    address, and neither its API token id nor a certificate fingerprint."""
    for address in (netloc(server.address, server.port), netloc(server.host, server.port), server.address, server.host):
        message = message.replace(address, server.name)
    if server.token_id:
        message = message.replace(server.token_id, "its API token")
    return _FINGERPRINT.sub("(a certificate fingerprint)", message)
