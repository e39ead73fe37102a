"""Guests (QEMU VMs and LXC containers) of a Proxmox server, as the portal and the API show them."""

from dataclasses import asdict, dataclass

from nexus.errors import ApplicationError
from servers import proxmox
from servers.models import ProxmoxServer


@dataclass(frozen=True)
class Guest:
    vmid: int
    name: str
    node: str
    type: str  # "qemu" | "lxc"
    status: str
    template: bool
    cpu: float
    maxcpu: int
    mem: int
    maxmem: int
    uptime: int
    tags: list[str]

    @classmethod
    def from_resource(cls, resource: dict) -> "Guest":
        """From one entry of Proxmox's cluster/resources; tolerant of missing figures, strict on identity."""
        try:
            vmid = int(resource["vmid"])
            node = str(resource["node"])
            kind = str(resource["type"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ApplicationError("Proxmox listed a guest without vmid, node or type.", status=502) from exc
        return cls(
            vmid=vmid,
            name=str(resource.get("name") or f"{kind}-{vmid}"),
            node=node,
            type=kind,
            status=str(resource.get("status") or "unknown"),
            template=bool(resource.get("template")),
            cpu=float(resource.get("cpu") or 0),
            maxcpu=int(resource.get("maxcpu") or 0),
            mem=int(resource.get("mem") or 0),
            maxmem=int(resource.get("maxmem") or 0),
            uptime=int(resource.get("uptime") or 0),
            tags=[tag for tag in str(resource.get("tags") or "").split(";") if tag],
        )

    def as_dict(self) -> dict:
        return asdict(self)


def guests_list(*, server: ProxmoxServer) -> list[Guest]:
    with proxmox.ProxmoxClient(server.connection()) as client:
        resources = client.guests()
    guests = [Guest.from_resource(r) for r in resources if r.get("type") in proxmox.KINDS]
    return sorted(guests, key=lambda guest: guest.vmid)


def guest_get(*, server: ProxmoxServer, vmid: int) -> Guest:
    for guest in guests_list(server=server):
        if guest.vmid == vmid:
            return guest
    raise ApplicationError(f"{server.name} has no guest {vmid}.", status=404, code="guest_not_found")
