"""How a failing Proxmox reads to our users: the upstream's fault (502, 504 on a timeout), never theirs."""

from nexus.errors import ApplicationError

from . import proxmox

_STATUS = {proxmox.TimedOut: 504, proxmox.InvalidRequest: 400}


def proxmox_failure(error: proxmox.ProxmoxError) -> ApplicationError:
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 502)
    return ApplicationError(error.message, status=status, code=f"proxmox_{type(error).__name__.lower()}")
