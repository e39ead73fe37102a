from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from nexus.errors import ApplicationError
from servers import proxmox
from servers.selectors import server_for_user
from tenants import access, roles

from .services import guests_list


@login_required
@require_safe
def server_guests(request, server_id: int):
    server = server_for_user(request.user, server_id)
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
