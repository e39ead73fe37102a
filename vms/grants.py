"""Single guests as a kind of grant (tenants.grants): the members page and the grants API give and take them back
beside single servers. A vms.GuestGrant holds seeing the guest and, by its flags, its console and power; each flag
that is on is listed as a grant of its own, a grant that gives neither as "view"."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from nexus.errors import ApplicationError
from servers.models import ProxmoxServer
from tenants.grants import Grant, GrantKind

from .models import GuestGrant
from .services import guest_grant_revoke, guest_grant_set

FLAGS = ("console", "power")


@dataclass(frozen=True)
class GrantedGuest:
    server: ProxmoxServer
    vmid: int

    def __str__(self) -> str:
        return f"{self.server.name}/{self.vmid}"


class GuestGrantKind(GrantKind):
    name = "guest"
    permissions = ("view", *FLAGS)
    part_of = "server"
    part_label = "VM id"
    part_help = "To grant one guest of the server alone; empty grants the whole server."

    def objects(self, tenant):
        return ProxmoxServer.objects.filter(tenant=tenant)

    def _grants_of_row(self, tenant, row: GuestGrant) -> list[Grant]:
        guest = GrantedGuest(row.server, row.vmid)
        given = [flag for flag in FLAGS if getattr(row, flag)] or ["view"]
        object_id = f"{row.server_id}/{row.vmid}"
        return [Grant(f"guest-{row.pk}-{flag}", tenant, self.name, guest, object_id, row.user, flag) for flag in given]

    def grants(self, tenant) -> list[Grant]:
        rows = GuestGrant.objects.filter(server__tenant=tenant).select_related("server", "user")
        return [grant for row in rows for grant in self._grants_of_row(tenant, row)]

    def give(self, tenant, user, object_id, permission: str, actor) -> Grant:
        self.check(permission)
        server_id, _, vmid = str(object_id).partition("/")
        server = self.object_of(tenant, server_id)
        row = GuestGrant.objects.filter(user=user, server=server, vmid=vmid if vmid.isdigit() else None).first()
        flags = {flag: getattr(row, flag) if row else False for flag in FLAGS}
        if permission in FLAGS:
            flags[permission] = True
        try:
            row = guest_grant_set(user=user, server=server, vmid=int(vmid), actor=actor, **flags)
        except (ValueError, ValidationError):
            raise ApplicationError(
                f"A guest is named by its server and VM id (100 or more): {server.pk}/100.", code="invalid"
            ) from None
        given = self._grants_of_row(tenant, row)
        return next((grant for grant in given if grant.permission == permission), given[0])

    def take_back(self, grant: Grant) -> None:
        row = GuestGrant.objects.get(pk=grant.id.split("-")[1])
        flags = {flag: getattr(row, flag) and flag != grant.permission for flag in FLAGS}
        if grant.permission == "view" or not any(flags.values()):
            guest_grant_revoke(grant=row)
        else:
            guest_grant_set(user=row.user, server=row.server, vmid=row.vmid, **flags)
