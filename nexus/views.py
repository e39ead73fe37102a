"""The portal's home: what the user may see across the apps (nexus sits on top of them)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from servers.selectors import servers_for_user
from tenants import roles
from tenants.models import Tenant


@login_required
@require_safe
def home(request):
    tenants = Tenant.objects.restrict(request.user, roles.VIEW_TENANT)
    return render(request, "portal/home.html", {"tenants": tenants, "servers": servers_for_user(request.user)})
