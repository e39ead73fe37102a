"""How a failing Proxmox reads to our users: the upstream's fault (502, 504 on a timeout), never theirs."""

from nexus.errors import ApplicationError

from . import proxmox

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
