"""Grants of single objects of a tenant, or of single parts of one, of every kind that can be granted.

tenants imports no app above it, so each app registers what of its own can be granted, in its AppConfig.ready:
servers registers "server" (view, console, power on one Proxmox server, kept by django-guardian), vms registers
"guest" (the same on one guest of a server, kept as vms.GuestGrant). The members page and the grants API list,
give and take back grants of every registered kind alike; tenants.services audits them.
"""

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.http import Http404
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from nexus.errors import ApplicationError

from .roles import GRANTABLE


@dataclass(frozen=True)
class Grant:
    id: str  # "<kind>-<its row>...": unique among the grants of every kind
    tenant: object
    kind: str
    target: object  # what is granted: a server; a guest
    object_id: str  # how the grants API names the target: "12" (a server), "12/100" (guest 100 of server 12)
    user: object
    permission: str  # "console"


class GrantKind:
    """What of one kind can be granted one by one, and how its grants are kept. A kind that grants parts of another
    kind's objects (a guest of a server) names that kind in `part_of`, and its object ids are "<object>/<part>"."""

    name: str
    permissions: tuple[str, ...]  # what a grant may give: ("view", "console", "power")
    part_of: str | None = None
    part_label: str = ""  # what the part is called on a form: "VM id"
    part_help: str = ""  # and how it is used there

    def grants(self, tenant) -> list[Grant]:
        raise NotImplementedError

    def objects(self, tenant):
        """The tenant's objects of this kind (of a part kind: the objects it grants parts of)."""
        raise NotImplementedError

    def give(self, tenant, user, object_id, permission: str, actor) -> Grant:
        raise NotImplementedError

    def take_back(self, grant: Grant) -> None:
        raise NotImplementedError

    def check(self, permission: str) -> None:
        if permission not in self.permissions:
            raise ApplicationError(f"A {self.name} grant is one of: {', '.join(self.permissions)}.", code="invalid")

    def object_of(self, tenant, object_id):
        try:
            return self.objects(tenant).get(pk=object_id)
        except (ValueError, TypeError, self.objects(tenant).model.DoesNotExist):
            raise ApplicationError(f"{tenant.name} has no such {self.part_of or self.name}.", code="invalid") from None


class ObjectGrantKind(GrantKind):
    """Whole objects of a model of the choke point (with its tenant_path), granted with django-guardian."""

    def __init__(self, name: str, model: type, permissions: dict[str, str]):
        unknown = set(permissions.values()) - GRANTABLE
        if unknown:
            raise ValueError(f"not grantable one by one (tenants.roles.GRANTABLE): {sorted(unknown)}")
        self.name, self.model, self.perms = name, model, permissions  # {"console": "servers.open_console"}
        self.permissions = tuple(permissions)

    def objects(self, tenant):
        path = self.model.tenant_path
        return self.model._default_manager.filter(**{f"{path}__pk" if path else "pk": tenant.pk})

    def _content_type(self):
        return ContentType.objects.get_for_model(self.model)

    def grants(self, tenant) -> list[Grant]:
        targets = {str(obj.pk): obj for obj in self.objects(tenant)}
        by_codename = {perm.split(".")[1]: name for name, perm in self.perms.items()}
        rows = UserObjectPermission.objects.filter(
            content_type=self._content_type(), object_pk__in=list(targets), permission__codename__in=list(by_codename)
        ).select_related("user", "permission")
        return [
            Grant(
                f"{self.name}-{row.pk}",
                tenant,
                self.name,
                targets[row.object_pk],
                row.object_pk,
                row.user,
                by_codename[row.permission.codename],
            )
            for row in rows
        ]

    def give(self, tenant, user, object_id, permission: str, actor) -> Grant:
        self.check(permission)
        target = self.object_of(tenant, object_id)
        row = assign_perm(self.perms[permission], user, target)
        return Grant(f"{self.name}-{row.pk}", tenant, self.name, target, str(target.pk), user, permission)

    def take_back(self, grant: Grant) -> None:
        remove_perm(self.perms[grant.permission], grant.user, grant.target)


_kinds: dict[str, GrantKind] = {}


def register(kind: GrantKind) -> None:
    _kinds[kind.name] = kind


def kinds() -> list[GrantKind]:
    return list(_kinds.values())


def kind(name: str) -> GrantKind:
    found = _kinds.get(name)
    if found is None:
        raise ApplicationError(f"Nothing of kind {name!r} can be granted.", code="invalid")
    return found


def grants_of(tenant) -> list[Grant]:
    """Every grant of one object or part on the tenant's objects, by user and object."""
    found = [grant for registered in _kinds.values() for grant in registered.grants(tenant)]
    return sorted(found, key=lambda grant: (grant.user.get_username(), grant.kind, str(grant.target), grant.id))


def grant_of(tenant, grant_id: str) -> Grant:
    """One grant on the tenant's objects; 404 for any other."""
    registered = _kinds.get(str(grant_id).split("-", 1)[0])
    for grant in registered.grants(tenant) if registered else ():
        if grant.id == str(grant_id):
            return grant
    raise Http404("No such grant.")
