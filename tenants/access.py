"""The one place that answers "what may this user see or do".

Every view, API endpoint and WebSocket consumer asks here, never builds its own
filter. Platform admins (superusers) may do everything. Anyone else gets the
permissions of their role in each active tenant they belong to (tenants.roles),
plus permissions granted on single servers with django-guardian.
"""

from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user, get_perms

from servers.models import ProxmoxServer

from .models import Membership, Tenant
from .roles import ROLE_PERMISSIONS, SERVER_GRANTABLE, VIEW_SERVER, roles_with


def is_platform_admin(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def _is_ordinary_user(user) -> bool:
    return bool(user.is_authenticated and user.is_active)


def tenants_for_user(user, perm: str, queryset: QuerySet | None = None) -> QuerySet:
    """The tenants on which the user's role grants `perm`."""
    queryset = Tenant.objects.all() if queryset is None else queryset
    if is_platform_admin(user):
        return queryset
    if not _is_ordinary_user(user):
        return queryset.none()
    return queryset.filter(
        is_active=True,
        memberships__user=user,
        memberships__role__in=roles_with(perm),
    ).distinct()


def _servers_granted(user, perm: str) -> QuerySet:
    """Servers granted to the user one by one; a grant of any server permission lets them see it."""
    perms = list(SERVER_GRANTABLE) if perm == VIEW_SERVER else [perm]
    return get_objects_for_user(
        user, perms, klass=ProxmoxServer, any_perm=True, with_superuser=False, accept_global_perms=False
    )


def servers_for_user(user, perm: str, queryset: QuerySet | None = None) -> QuerySet:
    """The servers on which the user holds `perm`, through their role or a single-server grant."""
    queryset = ProxmoxServer.objects.all() if queryset is None else queryset
    if is_platform_admin(user):
        return queryset
    if not _is_ordinary_user(user):
        return queryset.none()
    by_role = Q(tenant__in=tenants_for_user(user, perm))
    by_grant = Q(pk__in=_servers_granted(user, perm).values("pk"), tenant__is_active=True)
    return queryset.filter(by_role | by_grant)


def tenant_permissions(user, tenant: Tenant) -> frozenset[str]:
    if is_platform_admin(user):
        return frozenset().union(*ROLE_PERMISSIONS.values())
    if not _is_ordinary_user(user) or not tenant.is_active:
        return frozenset()
    role = Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
    return ROLE_PERMISSIONS.get(role, frozenset())


def server_permissions(user, server: ProxmoxServer) -> frozenset[str]:
    perms = tenant_permissions(user, server.tenant)
    if is_platform_admin(user) or not _is_ordinary_user(user) or not server.tenant.is_active:
        return perms
    granted = {f"servers.{codename}" for codename in get_perms(user, server)}
    if granted & set(SERVER_GRANTABLE):
        granted.add(VIEW_SERVER)
    return perms | (granted & set(SERVER_GRANTABLE))


def can(user, perm: str, obj: Tenant | ProxmoxServer) -> bool:
    if isinstance(obj, Tenant):
        return perm in tenant_permissions(user, obj)
    return perm in server_permissions(user, obj)
