"""Reads of tenants for a user, through the choke point; and the tenant the user works in now."""

from django.db.models import QuerySet

from . import access
from .models import Tenant

# The session key that remembers the tenant a user chose in the header.
CURRENT_TENANT = "current_tenant"


def tenants_reachable(user) -> QuerySet:
    """The tenants the user works in, by name: by role, or through grants on their objects."""
    return access.reachable(Tenant.objects.all(), user).order_by("name")


def tenant_current(request) -> Tenant | None:
    """The tenant the user works in: the one `?tenant=` names, else the one they chose last, else their first.

    Only ever one the user reaches; None when they reach none.
    """
    reachable = tenants_reachable(request.user)
    for slug in (request.GET.get("tenant"), request.session.get(CURRENT_TENANT)):
        if slug and (tenant := reachable.filter(slug=slug).first()):
            return tenant
    return reachable.first()
