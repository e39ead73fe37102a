"""Single-object grants (django-guardian) of a tenant's objects, of every kind that can be granted.

tenants imports no app above it, so each app registers what of its own can be granted, in its AppConfig.ready:
servers registers "server" (view, console, power on one Proxmox server). A per-guest kind joins the members page
and the grants API by registering its model the same way, with its own permission names.
"""

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.http import Http404
from guardian.models import UserObjectPermission

from nexus.errors import ApplicationError

from .roles import GRANTABLE


@dataclass(frozen=True)
class GrantKind:
    name: str  # "server"
    model: type  # with tenant_path, like every model of the choke point
    permissions: dict[str, str]  # what a grant is called -> the permission: {"console": "servers.open_console"}

    def objects(self, tenant):
        path = self.model.tenant_path
        return self.model._default_manager.filter(**{f"{path}__pk" if path else "pk": tenant.pk})


@dataclass(frozen=True)
class Grant:
    id: int  # the guardian row's
    tenant: object
    kind: str
    target: object
    user: object
    permission: str  # "console"
    perm: str  # "servers.open_console"


_kinds: dict[str, GrantKind] = {}


def register(kind: GrantKind) -> None:
    unknown = set(kind.permissions.values()) - GRANTABLE
    if unknown:
        raise ValueError(f"not grantable one by one (tenants.roles.GRANTABLE): {sorted(unknown)}")
    _kinds[kind.name] = kind


def kinds() -> list[GrantKind]:
    return list(_kinds.values())


def resolve(tenant, kind_name: str, object_id, permission: str) -> tuple[object, str]:
    """The tenant's object and the permission a grant names; an ApplicationError for anything else."""
    kind = _kinds.get(kind_name)
    if kind is None:
        raise ApplicationError(f"Nothing of kind {kind_name!r} can be granted.", code="invalid")
    if permission not in kind.permissions:
        raise ApplicationError(f"A {kind.name} grant is one of: {', '.join(kind.permissions)}.", code="invalid")
    try:
        target = kind.objects(tenant).get(pk=object_id)
    except (kind.model.DoesNotExist, ValueError, TypeError):
        raise ApplicationError(f"{tenant.name} has no such {kind.name}.", code="invalid") from None
    return target, kind.permissions[permission]


def _rows(tenant):
    for kind in _kinds.values():
        targets = {str(obj.pk): obj for obj in kind.objects(tenant)}
        by_perm = {perm.split(".")[1]: name for name, perm in kind.permissions.items()}
        rows = UserObjectPermission.objects.filter(
            content_type=ContentType.objects.get_for_model(kind.model),
            object_pk__in=list(targets),
            permission__codename__in=list(by_perm),
        ).select_related("user", "permission")
        for row in rows:
            codename = row.permission.codename
            perm = next(p for p in kind.permissions.values() if p.split(".")[1] == codename)
            yield Grant(row.pk, tenant, kind.name, targets[row.object_pk], row.user, by_perm[codename], perm)


def grants_of(tenant) -> list[Grant]:
    """Every single-object grant on the tenant's objects, by user and object."""
    return sorted(_rows(tenant), key=lambda grant: (grant.user.get_username(), grant.kind, str(grant.target)))


def grant_of(tenant, grant_id) -> Grant:
    """One grant on the tenant's objects; 404 for any other."""
    for grant in _rows(tenant):
        if str(grant.id) == str(grant_id):
            return grant
    raise Http404("No such grant.")
