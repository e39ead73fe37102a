from dataclasses import dataclass

from django.db import transaction

from nexus import crypto

from . import proxmox
from .models import ProxmoxServer


def servers_reencrypt_tokens() -> int:
    """Re-encrypt every stored token secret with the newest key; returns how many rows changed."""
    count = 0
    with transaction.atomic():
        for server in ProxmoxServer.objects.select_for_update().only("pk", "token_secret_encrypted"):
            server.token_secret_encrypted = crypto.reencrypt(server.token_secret_encrypted)
            server.save(update_fields=["token_secret_encrypted"])
            count += 1
    return count


@dataclass(frozen=True)
class PresentedCertificate:
    fingerprint: str
    matches_pin: bool | None  # None when the server does not pin a fingerprint


def server_presented_certificate(*, server: ProxmoxServer) -> PresentedCertificate:
    """The fingerprint the server presents now, for the operator to compare and pin (never pinned automatically)."""
    presented = proxmox.fetch_fingerprint(server.address, server.port, timeout=float(server.connection_timeout))
    pinned = server.fingerprint if server.tls_mode == "fingerprint" else ""
    return PresentedCertificate(fingerprint=presented, matches_pin=(presented == pinned) if pinned else None)


def server_token_report(*, server: ProxmoxServer) -> proxmox.PrivilegeReport:
    """What the stored token may do on Proxmox, compared with what the broker needs."""
    with proxmox.ProxmoxClient(server.connection()) as client:
        return client.token_privilege_report()
