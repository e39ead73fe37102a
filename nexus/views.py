"""The portal's home: what the user may see across the apps (nexus sits on top of them)."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.http import require_safe

from servers.selectors import servers_for_user
from tenants import roles
from tenants.models import Tenant
from vms.selectors import servers_with_guests_for_user

from .api import error_body
from .middleware import API_PREFIX
from .selectors import platform_overview


@login_required
@require_safe
def home(request):
    # The page groups servers by tenant: every tenant of the user (with servers or not), and the tenants of
    # servers granted singly.
    groups = {tenant: [] for tenant in Tenant.objects.restrict(request.user, roles.VIEW_TENANT)}
    # Servers of which the user holds single guests are listed too (by name; their page shows those guests).
    for server in servers_with_guests_for_user(request.user):
        groups.setdefault(server.tenant, []).append(server)
    # How a server is reached shows only to those who may change it.
    changeable = set(servers_for_user(request.user, roles.CHANGE_SERVER).values_list("pk", flat=True))
    context = {"groups": sorted(groups.items(), key=lambda group: group[0].name), "changeable": changeable}
    return render(request, "portal/home.html", context)


@login_required
@require_safe
def operators_overview(request):
    """The whole platform for its operators: each tenant's servers, guests, members and open consoles."""
    return render(request, "portal/operators.html", {"overview": platform_overview(request.user)})


def page_not_found(request, exception):
    """404: JSON in the API's error shape under /api/, the product's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("Not found.", "not_found"), status=404)
    return defaults.page_not_found(request, exception)
