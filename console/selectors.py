"""Reads of console sessions, through the choke point: a tenant's sessions are for those who manage its consoles."""

from django.db.models import QuerySet

from tenants import access, roles
from tenants.models import Tenant

from .models import ConsoleSession


def console_tenants_for_user(user) -> QuerySet:
    """The tenants whose console sessions the user may see and end: those they administer, all for platform admins."""
    return Tenant.objects.restrict(user, roles.MANAGE_CONSOLES)


def console_sessions_manageable(user) -> bool:
    """Whether the user may see and end the console sessions of at least one tenant."""
    return console_tenants_for_user(user).exists()


def console_sessions_for_user(user, *, tenant: str = "") -> QuerySet:
    """The sessions the user may see and end; `tenant`, a slug, narrows them to one tenant."""
    sessions = ConsoleSession.objects.restrict(user, roles.MANAGE_CONSOLES)
    if tenant:
        sessions = sessions.filter(tenant__slug=tenant)
    return sessions.select_related("user", "server", "tenant")


def console_session_for_user(user, session_id) -> ConsoleSession:
    """One session the user may see and end; 404 otherwise."""
    return access.get_object_for_user(
        ConsoleSession.objects.select_related("user", "server", "tenant"), user, pk=session_id
    )


def tenant_consoles_open(*, tenant, user) -> int:
    """Consoles open now in the tenant: all of them for those who manage its consoles, else the user's own."""
    sessions = ConsoleSession.objects.open().filter(tenant=tenant)
    if not access.can(user, roles.MANAGE_CONSOLES, tenant):
        sessions = sessions.filter(user=user)
    return sessions.count()
