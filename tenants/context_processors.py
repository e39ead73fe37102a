from functools import cache

from django.utils.functional import SimpleLazyObject

from . import access
from .selectors import tenant_current, tenants_reachable

# The header's switcher lists at most this many; operators of more tenants use the overview.
SWITCHER_LIMIT = 50


def tenant_nav(request):
    """The tenant the user works in and those they may switch to, for the header; queried only when shown."""
    user = getattr(request, "user", None)  # absent on error pages drawn before authentication
    if user is None or not user.is_authenticated:
        return {}
    current = cache(lambda: tenant_current(request))
    return {
        "current_tenant": SimpleLazyObject(current),
        "switchable_tenants": SimpleLazyObject(lambda: list(tenants_reachable(user)[:SWITCHER_LIMIT])),
        # What the user may do in the current tenant, for the header's links to its pages.
        "tenant_perms": SimpleLazyObject(lambda: access.permissions(user, current()) if current() else frozenset()),
    }
