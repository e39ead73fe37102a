import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from nexus.errors import ApplicationError
from nexus.http import client_ip
from tenants import roles
from vms.selectors import guest_access_for_user, guest_for_user

from .relay import CloseReason
from .selectors import console_session_for_user, console_sessions_for_user, console_tenants_for_user
from .services import TOKEN_PROTOCOL, WEBSOCKET_PATH, console_session_terminate

RECENT_CLOSED_SESSIONS = 50
# The page follows the live events of at most this many tenants (a platform admin chooses one to follow it live).
LIVE_TENANTS = 10


@login_required
@require_safe
def console_page(request, server_id: int, vmid: int):
    """The noVNC page. It holds no token: console.js asks the API for a fresh one per connection (the first may come
    in the URL's fragment, from the API's `console_url`). A stopped guest is offered Start when the user may start
    it; the console connects once it runs."""
    found = guest_access_for_user(request.user, server_id, vmid)
    server = found.server
    context = {"server": server, "vmid": vmid, "guest": None, "problem": None}
    try:
        if roles.OPEN_CONSOLE not in found.perms:
            raise PermissionDenied
        context["guest"] = guest = guest_for_user(request.user, server.pk, vmid, fresh=True)
    except PermissionDenied:
        context["problem"] = "You may see this guest but not open its console."
        return render(request, "console/page.html", context, status=403)
    except ApplicationError as error:
        upstream = error.code.startswith("proxmox_")
        context["problem"] = f"Proxmox did not answer as expected: {error.message}" if upstream else error.message
        return render(request, "console/page.html", context, status=error.status)
    context["console_api"] = reverse("api:guest-console", args=[server.pk, vmid])
    context["websocket_path"], context["token_protocol"] = WEBSOCKET_PATH, TOKEN_PROTOCOL
    context["guest_api"] = reverse("api:guest-detail", args=[server.pk, vmid])
    may_start = roles.POWER_GUESTS in found.perms and "start" in server.tenant.allowed_power_actions
    if may_start and not guest.template:
        context["power_api"] = reverse("api:guest-power", args=[server.pk, vmid])
    # What console.js does after each of the relay's close codes: stop, or reconnect.
    close_codes = {reason.name: {"code": reason.code, "final": reason.final} for reason in CloseReason}
    context["close_codes"] = json.dumps(close_codes)
    return render(request, "console/page.html", context)


@login_required
@require_safe
def sessions_page(request):
    """The console sessions of the tenants the user administers: the open ones, then the latest closed."""
    tenant = request.GET.get("tenant", "")
    sessions = console_sessions_for_user(request.user, tenant=tenant)
    tenants = list(console_tenants_for_user(request.user))
    shown = [choice for choice in tenants if choice.slug == tenant or not tenant]
    context = {
        "tenants": tenants,
        "tenant": tenant,
        "live_tenants": shown if len(shown) <= LIVE_TENANTS else [],
        "open_sessions": sessions.open().order_by("-opened_at"),
        "closed_sessions": sessions.closed().order_by("-closed_at")[:RECENT_CLOSED_SESSIONS],
    }
    return render(request, "console/sessions.html", context)


@login_required
@require_POST
def session_terminate(request, session_id: int):
    session = console_session_for_user(request.user, session_id)
    try:
        console_session_terminate(session=session, actor=request.user, client_ip=client_ip(request))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        guest = session.guest_name or f"guest {session.vmid}"
        messages.success(request, f"Ended {session.user.get_username()}'s console of {guest}.")
    # Back to the page as it was filtered.
    tenant = request.POST.get("tenant", "")
    query = f"?{urlencode({'tenant': tenant})}" if tenant else ""
    return redirect(reverse("console:sessions") + query)
