from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from nexus.errors import ApplicationError
from servers import proxmox
from servers.models import ProxmoxServer
from tenants import access, roles
from vms.services import guest_get


@login_required
def console_page(request, server_id: int, vmid: int):
    """The noVNC page. It holds no token: console.js asks the API for a fresh one per connection."""
    visible = ProxmoxServer.objects.for_user(request.user, roles.VIEW_SERVER).select_related("tenant")
    server = get_object_or_404(visible, pk=server_id)
    context = {"server": server, "vmid": vmid, "guest": None, "problem": None}
    if not access.can(request.user, roles.OPEN_CONSOLE, server):
        context["problem"] = "You may see this server but not open its consoles."
        return render(request, "console/page.html", context, status=403)
    try:
        context["guest"] = guest_get(server=server, vmid=vmid)
    except ApplicationError as error:
        context["problem"] = error.message
        return render(request, "console/page.html", context, status=error.status)
    except proxmox.ProxmoxError as error:
        context["problem"] = f"Proxmox did not answer as expected: {error.message}"
        return render(request, "console/page.html", context, status=502)
    context["console_api"] = reverse("api:guest-console", args=[server.pk, vmid])
    context["guest_api"] = reverse("api:guest-detail", args=[server.pk, vmid])
    return render(request, "console/page.html", context)
