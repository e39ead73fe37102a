"""The portal's home: what the user may see across the apps (nexus sits on top of them)."""

import sys

from django.contrib.auth.decorators import login_required
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views import defaults
from django.views.decorators.http import require_safe

from tenants.access import is_platform_admin
from tenants.selectors import CURRENT_TENANT, tenant_current, tenants_reachable

from .api import error_body
from .dashboard import tenant_dashboard
from .middleware import API_PREFIX
from .selectors import platform_overview

# The parts of the dashboard that live updates fetch again (templates/portal/includes/dashboard_<part>.html).
DASHBOARD_PARTS = ("stats", "servers")
# Seconds a client is asked to wait when the database does not answer (restarting, failing over).
DATABASE_RETRY_AFTER = 10


@login_required
@require_safe
def home(request):
    """The current tenant's dashboard. Platform admins start on the Platform page, until they name a tenant there
    (`?tenant=slug`) or choose one in the header's switcher."""
    platform_admin = is_platform_admin(request.user)
    if platform_admin and not (request.GET.get("tenant") or request.session.get(CURRENT_TENANT)):
        return redirect("portal:operators")
    tenant = tenant_current(request)
    context = {
        "dashboard": tenant and tenant_dashboard(tenant=tenant, user=request.user),
        "from_platform": platform_admin,
    }
    return render(request, "portal/home.html", context)


@login_required
@require_safe
def dashboard_part(request, slug: str, part: str):
    """One part of a tenant's dashboard, as live updates fetch it again; 404 for a tenant the user does not reach."""
    tenant = tenants_reachable(request.user).filter(slug=slug).first()
    if tenant is None or part not in DASHBOARD_PARTS:
        raise Http404("No such tenant.")
    context = {"dashboard": tenant_dashboard(tenant=tenant, user=request.user)}
    return render(request, f"portal/includes/dashboard_{part}.html", context)


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


def server_error(request):
    """500, or 503 with Retry-After when the database does not answer (an outage, not a bug): JSON in the API's
    error shape under /api/, the product's page elsewhere (rendered without a request: the database is not asked)."""
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        status, template, headers = 503, "503.html", {"Retry-After": str(DATABASE_RETRY_AFTER)}
        body = error_body("The service is temporarily unavailable: try again shortly.", "unavailable")
    else:
        status, template, headers = 500, "500.html", {}
        body = error_body("The server failed to answer this request.", "server_error")
    if request.path.startswith(API_PREFIX):
        return JsonResponse(body, status=status, headers=headers)
    return HttpResponse(loader.get_template(template).render(), status=status, headers=headers)
