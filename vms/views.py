from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from nexus.errors import ApplicationError
from servers import proxmox
from servers.models import ProxmoxServer
from tenants import access, roles

from .services import guests_list


@login_required
def server_guests(request, server_id: int):
    server = get_object_or_404(
        ProxmoxServer.objects.for_user(request.user, roles.VIEW_SERVER).select_related("tenant"), pk=server_id
    )
    guests, error = [], ""
    try:
        guests = guests_list(server=server)
    except (proxmox.ProxmoxError, ApplicationError) as failure:
        error = failure.message
    context = {
        "server": server,
        "guests": guests,
        "error": error,
        "can_console": access.can(request.user, roles.OPEN_CONSOLE, server) and server.tenant.console_enabled,
    }
    return render(request, "portal/server.html", context)
