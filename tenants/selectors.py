"""Reads of tenants for a user, through the choke point; and the tenant the user works in now."""

from django.db.models import QuerySet
from django.http import Http404

from . import access
from .models import Membership, Tenant

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


def members_of(tenant: Tenant) -> QuerySet:
    """A tenant's memberships, by user name (the caller has checked the user may see them)."""
    return tenant.memberships.select_related("user").order_by("user__username")


def member_of(tenant: Tenant, member_id) -> Membership:
    """One membership of the tenant; 404 for any other."""
    try:
        return members_of(tenant).get(pk=member_id)
    except (Membership.DoesNotExist, ValueError, TypeError):
        raise Http404("No such member.") from None
