from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from servers.models import ProxmoxServer

from . import roles
from .models import Tenant


@login_required
def home(request):
    tenants = Tenant.objects.for_user(request.user, roles.VIEW_TENANT)
    servers = ProxmoxServer.objects.for_user(request.user, roles.VIEW_SERVER).select_related("tenant")
    return render(request, "portal/home.html", {"tenants": tenants, "servers": servers})
