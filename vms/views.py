"""The portal's guest pages: every guest of the current tenant, one server's guests, and the quick actions.

The pages render everything they show (they work without JavaScript for reading). A quick action posts with htmx
and gets the guest's row (or card) back, showing the Proxmox task's progress; that part asks for itself again every
second until the task has ended, then shows the guest's new state, or Proxmox's reason when the task failed.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from nexus.errors import ApplicationError
from nexus.http import client_ip
from servers import proxmox
from tenants import access, roles
from tenants.selectors import tenant_current

from .selectors import (
    STATUSES,
    GuestListing,
    guest_for_user,
    guests_for_user,
    server_with_guests_for_user,
)
from .services import guest_power, guest_task_status

# The session key that remembers whether the user looks at guests as a table or as cards.
VIEW_KEY = "guests_view"
VIEWS = ("table", "cards")
FILTERS = ("server", "node", "type", "status", "search", "sort")
COLUMNS = [
    ("vmid", "ID"),
    ("name", "Name"),
    ("server", "Server · node"),
    ("node", "Node"),
    ("status", "Status · uptime"),
    ("cpu", "CPU"),
    ("mem", "Memory"),
    ("disk", "Disk"),
]
# What a running task does, in the words of the row that shows it.
DOING = {
    "start": "Starting",
    "shutdown": "Shutting down",
    "reboot": "Rebooting",
    "suspend": "Suspending",
    "resume": "Resuming",
    "stop": "Stopping",
    "reset": "Resetting",
}


def _view(request) -> str:
    """Table or cards: as asked (and then remembered), else as chosen last."""
    asked = request.GET.get("view") or request.POST.get("view")
    if asked in VIEWS:
        request.session[VIEW_KEY] = asked
        return asked
    return request.session.get(VIEW_KEY, VIEWS[0])


def _columns(sort: str, *, with_server: bool) -> list[dict]:
    columns = []
    for key, label in COLUMNS:
        # Across servers the server's cell names the node too.
        if key == ("node" if with_server else "server"):
            continue
        ascending = sort == key
        columns.append(
            {
                "key": key,
                "label": label,
                "sort": f"-{key}" if ascending else key,
                "aria_sort": "ascending" if ascending else "descending" if sort == f"-{key}" else "",
            }
        )
    return columns


def _listing(request, *, tenant: str = "", server_id: int | None = None) -> tuple[GuestListing, dict]:
    query = {name: request.GET.get(name, "").strip() for name in FILTERS}
    if server_id is None and query["server"]:
        server_id = int(query["server"]) if query["server"].isdigit() else 0
    listing = guests_for_user(
        request.user,
        tenant=tenant,
        server_id=server_id,
        node=query["node"],
        kind=query["type"],
        status=query["status"],
        search=query["search"],
        sort=query["sort"],
        fresh=request.GET.get("fresh") == "1",
    )
    return listing, query


def _list_context(request, listing: GuestListing, query: dict, *, with_server: bool) -> dict:
    return {
        "listing": listing,
        "guests": listing.guests,
        "failures": listing.errors_for_user(),
        "query": query,
        "view": _view(request),
        "views": VIEWS,
        "columns": _columns(query["sort"], with_server=with_server),
        "with_server": with_server,
        "statuses": STATUSES,
        "kinds": proxmox.KINDS,
        "filtered": any(query[name] for name in FILTERS if name != "sort"),
        "running": sum(guest.running for guest in listing.guests),
    }


@login_required
@require_safe
def guests_page(request):
    """Every guest of the current tenant that the user may see, across its servers."""
    tenant = tenant_current(request)
    context = {"tenant": tenant}
    if tenant is not None:
        listing, query = _listing(request, tenant=tenant.slug)
        context.update(_list_context(request, listing, query, with_server=True))
    return render(request, "vms/guests.html", context)


@login_required
@require_safe
def server_guests(request, server_id: int):
    """One server: its health for those who see the whole server, and the guests the user may see on it."""
    server = server_with_guests_for_user(request.user, server_id)
    listing, query = _listing(request, server_id=server.pk)
    scope = access.scope(request.user, server)
    context = {
        "server": server,
        "sees_server": scope.sees_every_part,
        "may_see_address": roles.CHANGE_SERVER in scope.whole,
        **_list_context(request, listing, query, with_server=False),
    }
    return render(request, "portal/server.html", context)


def _unreadable(request, server_id: int, vmid: int, error: ApplicationError):
    """In place of a guest whose server did not answer just now: why (a later reload shows it again)."""
    context = {"key": f"{server_id}-{vmid}", "problem": error.message, "view": _view(request)}
    return render(request, "vms/includes/guest_unreadable.html", context, status=error.status)


def _item(request, guest, *, status: int = 200, task=None, problem: str = ""):
    """One guest as the list shows it (a table row or a card), with its task or a problem."""
    with_server = (request.POST.get("with_server") or request.GET.get("with_server")) != "0"
    context = {"guest": guest, "task": task, "problem": problem, "view": _view(request), "with_server": with_server}
    if task is not None:
        context["doing"] = DOING.get(task.action, "Working")
    return render(request, "vms/includes/guest_item.html", context, status=status)


def _back(request):
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("vms:guests")
    return redirect(target)


@login_required
@require_POST
def guest_power_action(request, server_id: int, vmid: int):
    """A quick action. With htmx: the guest's row (or card) showing the task, or why it was refused; without: back
    to the page with a message."""
    action = request.POST.get("action", "")
    htmx = request.headers.get("HX-Request") == "true"
    try:
        task = guest_power(
            user=request.user, server_id=server_id, vmid=vmid, action=action, client_ip=client_ip(request)
        )
    except (ApplicationError, PermissionDenied) as error:
        status = getattr(error, "status", 403)
        problem = getattr(error, "message", None) or str(error) or "You may not do that with this guest."
        if not htmx:
            messages.error(request, problem)
            return _back(request)
        try:
            guest = guest_for_user(request.user, server_id, vmid)
        except ApplicationError as unreadable:
            return _unreadable(request, server_id, vmid, unreadable)
        return _item(request, guest, status=status, problem=problem)
    if not htmx:
        messages.success(request, f"{DOING.get(action, action)} guest {vmid}: Proxmox task {task.upid}.")
        return _back(request)
    try:
        guest = guest_for_user(request.user, server_id, vmid)
        progress = guest_task_status(user=request.user, server_id=server_id, upid=task.upid)
    except ApplicationError as error:
        return _unreadable(request, server_id, vmid, error)
    return _item(request, guest, task=progress)


@login_required
@require_safe
def task_progress(request, server_id: int, upid: str):
    """A guest's row (or card) while its task runs, and with its new state once it ended."""
    try:
        task = guest_task_status(user=request.user, server_id=server_id, upid=upid)
        guest = guest_for_user(request.user, server_id, task.vmid)
    except ApplicationError as error:
        vmid = proxmox.parse_upid(upid).vmid  # it parsed: the task's status was read or refused after that
        return _unreadable(request, server_id, vmid, error)
    problem = ""
    if not task.running and not task.ok:
        problem = f"{task.action.capitalize()} failed: {task.status.get('exitstatus') or 'no reason given'}"
    return _item(request, guest, task=task if task.running else None, problem=problem)
