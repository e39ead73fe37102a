"""What every API view shares: scoping through tenants.access and one error format."""

from django.http import Http404
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from servers import proxmox
from tenants import access

from .errors import ApplicationError

# Proxmox's own failures are the upstream's, not the caller's: 502/504, with the message that says why.
_PROXMOX_STATUS = {proxmox.TimedOut: 504, proxmox.InvalidRequest: 400}


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status)
    if isinstance(exc, proxmox.ProxmoxError):
        status = next((code for kind, code in _PROXMOX_STATUS.items() if isinstance(exc, kind)), 502)
        return Response({"detail": exc.message, "code": f"proxmox_{type(exc).__name__.lower()}"}, status=status)
    return drf_exception_handler(exc, context)


def get_scoped_object(queryset, user, perm: str, **lookup):
    """The object if the user may do `perm` with it; 404 if they may not even see it, 403 if read-only.

    `queryset` must come from a `.for_user(user, view_perm)` call: what the user cannot see does not exist.
    """
    try:
        obj = queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if not access.can(user, perm, obj):
        raise PermissionDenied("You may see this but not do that.")
    return obj
