"""The portal's server pages, for tenant admins and managers: the tenant's servers, add, edit and delete, the
certificate to pin, CSV import and the Proxmox API explorer."""

import base64
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nexus import crypto
from nexus.errors import ApplicationError
from nexus.http import client_ip
from tenants import access, roles
from tenants.selectors import tenant_current

from . import imports, proxmox
from .errors import proxmox_failure
from .forms import ImportForm, ServerForm
from .selectors import server_api_tree, server_for_user, servers_of_tenant, tenants_for_new_servers
from .services import (
    server_api_read,
    server_create,
    server_delete,
    server_explorer_choices,
    server_fingerprint_pin,
    server_presented_certificate,
    server_update,
    servers_import,
)

# How long a checked import waits for its Import button (its file travels encrypted in the page meanwhile).
IMPORT_CONFIRM_SECONDS = 3600


def _managed_tenant(request):
    """The tenant the user works in, when they may manage its servers: 404 without one, 403 when they may not."""
    tenant = tenant_current(request)
    if tenant is None:
        raise Http404("You work in no tenant.")
    access.require(request.user, roles.CHANGE_SERVER, tenant)
    return tenant


def _tenant_choices(request):
    """The tenants a new server may go to, when there is a choice (platform admins, admins of several)."""
    tenants = tenants_for_new_servers(request.user)
    return tenants if tenants.count() > 1 else None


@login_required
@require_safe
def server_list(request):
    tenant = _managed_tenant(request)
    servers = servers_of_tenant(request.user, tenant)
    context = {
        "tenant": tenant,
        "servers": servers,
        "can_explore": access.can(request.user, roles.EXPLORE_API, tenant),
    }
    return render(request, "servers/list.html", context)


def _failure_message(error) -> str:
    return proxmox_failure(error).message if isinstance(error, proxmox.ProxmoxError) else error.message


@login_required
@require_http_methods(["GET", "POST"])
def server_add(request):
    tenant = _managed_tenant(request)
    access.require(request.user, roles.ADD_SERVER, tenant)
    choices = _tenant_choices(request)
    form = ServerForm(request.POST or None, tenants=choices, initial={"tenant": tenant.slug})
    if request.method == "POST" and form.is_valid():
        target = form.cleaned_data.get("tenant", tenant)
        access.require(request.user, roles.ADD_SERVER, target)
        fields, secret = form.server_fields()
        try:
            server = server_create(tenant=target, actor=request.user, token_secret=secret, **fields)
        except ValidationError as error:
            form.add_error(None, error)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Added {server.name}; its first health check is running.")
            return redirect(f"{reverse('servers:list')}?tenant={target.slug}")
    context = {"form": form, "tenant": tenant, "test_url": reverse("api:server-test")}
    return render(request, "servers/form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def server_edit(request, server_id: int):
    server = server_for_user(request.user, server_id, roles.CHANGE_SERVER)
    form = ServerForm(request.POST or None, instance=server)
    if request.method == "POST" and form.is_valid():
        fields, secret = form.server_fields()
        try:
            server_update(server=server, actor=request.user, token_secret=secret, **fields)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved {server.name}.")
            return redirect(f"{reverse('servers:list')}?tenant={server.tenant.slug}")
    context = {
        "form": form,
        "server": server,
        "tenant": server.tenant,
        "test_url": reverse("api:server-connection-test", args=[server.pk]),
        "can_delete": access.can(request.user, roles.DELETE_SERVER, server),
    }
    return render(request, "servers/form.html", context)


@login_required
@require_POST
def server_remove(request, server_id: int):
    server = server_for_user(request.user, server_id, roles.DELETE_SERVER)
    server_delete(server=server, actor=request.user)
    messages.success(request, f"Deleted {server.name}, its metrics and console sessions.")
    return redirect(f"{reverse('servers:list')}?tenant={server.tenant.slug}")


@login_required
@require_http_methods(["GET", "POST"])
def server_certificate(request, server_id: int):
    """The fingerprint the server presents now beside the pinned one, and the one click that pins it (a fragment
    for the edit page's htmx, a page of its own without it)."""
    server = server_for_user(request.user, server_id, roles.CHANGE_SERVER)
    context = {"server": server, "presented": None, "problem": ""}
    if request.method == "POST":
        try:
            server_fingerprint_pin(server=server, actor=request.user, fingerprint=request.POST.get("fingerprint", ""))
        except ValidationError as error:
            context["problem"] = " ".join(error.messages)
        else:
            messages.success(request, f"Pinned the certificate of {server.name}; it is checked again now.")
            return redirect(reverse("servers:edit", args=[server.pk]))
    try:
        context["presented"] = server_presented_certificate(server=server)
    except (proxmox.ProxmoxError, ApplicationError) as error:
        context["problem"] = context["problem"] or _failure_message(error)
    fragment = request.headers.get("HX-Request") == "true"
    return render(request, "servers/_certificate.html" if fragment else "servers/certificate.html", context)


# ----------------------------------------------------------------------------------------------------- import


def _sealed(request, tenant, content: bytes) -> str:
    """The checked file, encrypted for the page to send back with Import: only this portal opens it, for this user,
    within IMPORT_CONFIRM_SECONDS."""
    payload = {"user": request.user.pk, "tenant": tenant.pk, "csv": base64.b64encode(content).decode()}
    return crypto.encrypt(json.dumps(payload))


def _unsealed(request, sealed: str):
    """(tenant, content) of a checked file the user may still import; None when it expired or is not theirs."""
    try:
        payload = json.loads(crypto.decrypt(sealed, ttl=IMPORT_CONFIRM_SECONDS))
    except (crypto.DecryptionError, ValueError):
        return None
    tenant = tenants_for_new_servers(request.user).filter(pk=payload.get("tenant")).first()
    if payload.get("user") != request.user.pk or tenant is None:
        return None
    return tenant, base64.b64decode(payload["csv"])


@login_required
@require_http_methods(["GET", "POST"])
def server_import(request):
    """Upload a CSV file, see each row checked (and probed), fix and upload again, then import all of it."""
    tenant = _managed_tenant(request)
    access.require(request.user, roles.ADD_SERVER, tenant)
    importing = request.method == "POST" and "sealed" in request.POST
    form = ImportForm(
        request.POST if request.method == "POST" and not importing else None,
        request.FILES or None,
        tenants=_tenant_choices(request),
        initial={"tenant": tenant.slug},
    )
    context = {"form": form, "tenant": tenant, "report": None, "sealed": "", "problem": ""}
    if importing:
        checked = _unsealed(request, request.POST["sealed"])
        if checked is None:
            context["problem"] = "The checked file has expired; upload it again."
        else:
            target, content = checked
            report = _run_import(request, context, target, content, dry_run=False, probe=False)
            if report is not None and report.imported:
                imported = len(report.rows)
                messages.success(request, f"Imported {imported} servers; their first health checks are running.")
                return redirect(f"{reverse('servers:list')}?tenant={target.slug}")
    elif request.method == "POST" and form.is_valid():
        target = form.cleaned_data.get("tenant") or tenant
        content = form.cleaned_data["file"].read(imports.MAX_BYTES + 1)
        report = _run_import(request, context, target, content, dry_run=True, probe=form.cleaned_data["probe"])
        if report is not None and report.ok:
            context.update(sealed=_sealed(request, target, content), target=target)
    return render(request, "servers/import.html", context)


def _run_import(request, context, tenant, content: bytes, *, dry_run: bool, probe: bool):
    try:
        report = servers_import(tenant=tenant, actor=request.user, content=content, dry_run=dry_run, probe=probe)
    except ApplicationError as error:
        context["problem"] = error.message
        return None
    context["report"] = report
    return report


@login_required
@require_safe
def import_template(request):
    response = HttpResponse(imports.TEMPLATE, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="servers.csv"'
    return response


# --------------------------------------------------------------------------------------------------- explorer


@login_required
@require_safe
def server_explore(request, server_id: int):
    """The read-only Proxmox API explorer: the tree of paths on the left, a read on the right."""
    server = server_for_user(request.user, server_id, roles.EXPLORE_API)
    context = {"server": server, "tree": server_api_tree(user=request.user, server=server)}
    template = request.GET.get("template", "")
    endpoint = next((e for e in proxmox.get_endpoints() if e.path == template and not e.refused_because), None)
    if endpoint is not None:
        context.update(_explore(request, server, endpoint))
    return render(request, "servers/explore.html", context)


def _explore(request, server, endpoint) -> dict:
    choices, problem = server_explorer_choices(server=server, endpoint=endpoint)
    values = {name: request.GET.get(name, "").strip() for name in endpoint.parameters}
    guest = request.GET.get("guest", "")
    if guest and "/" in guest:
        values["node"], values["vmid"] = guest.split("/", 1)
    context = {
        "endpoint": endpoint,
        "fields": _explorer_fields(endpoint, values, choices),
        "choices_problem": problem,
        "open_paths": {endpoint.path[:end] for end in range(1, len(endpoint.path) + 1)},
    }
    if "read" not in request.GET:
        return context
    path = endpoint.fill(values)
    params = {name: values[name] for name in endpoint.query_parameters if values.get(name)}
    context.update(read_path=path, read_params=params)
    try:
        result = server_api_read(
            server=server, user=request.user, path=path, params=params, client_ip=client_ip(request)
        )
    except (proxmox.ProxmoxError, ApplicationError) as error:
        context["read_error"] = _failure_message(error)
    else:
        context.update(result_json=json.dumps(result, indent=2, sort_keys=True), result_table=_table(result))
    return context


def _explorer_fields(endpoint, values: dict, choices: dict) -> list[dict]:
    """The explorer form's fields: the path's placeholders (the server's real guests or nodes to choose from),
    then its query parameters, each as the schema describes it."""
    fields = []
    placeholders = list(endpoint.placeholders)
    if "guest" in choices and {"node", "vmid"} <= set(placeholders):
        chosen = f"{values['node']}/{values['vmid']}" if values.get("node") and values.get("vmid") else ""
        guest = {"name": "guest", "label": "guest", "required": True, "options": choices["guest"], "value": chosen}
        fields.append(guest)
        placeholders = [name for name in placeholders if name not in ("node", "vmid")]
    for name in placeholders:
        fields.append(_explorer_field(name, endpoint.parameters.get(name, {}), values, True, choices.get(name)))
    for name, spec in endpoint.query_parameters.items():
        fields.append(_explorer_field(name, spec, values, not spec.get("optional"), None))
    return fields


def _explorer_field(name: str, spec: dict, values: dict, required: bool, options: list | None) -> dict:
    kind = spec.get("type", "string")
    if options is None and "enum" in spec:
        options = [{"value": str(value), "label": str(value)} for value in spec["enum"]]
    if options is None and kind == "boolean":
        options = [{"value": "1", "label": "1 (yes)"}, {"value": "0", "label": "0 (no)"}]
    return {
        "name": name,
        "label": name,
        "required": required,
        "value": values.get(name, ""),
        "options": options,
        "number": kind in ("integer", "number"),
        "min": spec.get("minimum"),
        "max": spec.get("maximum"),
        "help": spec.get("description", ""),
    }


def _table(result) -> dict | None:
    """A list of objects as a table (columns in order of first appearance), for reading; None for anything else."""
    if not isinstance(result, list) or not result or not all(isinstance(item, dict) for item in result):
        return None
    columns = list(dict.fromkeys(key for item in result for key in item))
    rows = [[_cell(item.get(column, "")) for column in columns] for item in result]
    return {"columns": columns, "rows": rows}


def _cell(value):
    return json.dumps(value) if isinstance(value, (dict, list)) else value
