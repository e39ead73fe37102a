"""Writes of tenants and memberships."""

from . import selectors


def tenant_choose(*, request, slug: str) -> bool:
    """Remember the tenant the user chose in the header; False when they do not reach it."""
    if not selectors.tenants_reachable(request.user).filter(slug=slug).exists():
        return False
    request.session[selectors.CURRENT_TENANT] = slug
    return True
