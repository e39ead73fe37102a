from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nexus.errors import ApplicationError
from nexus.http import client_ip

from . import access, grants, roles, selectors, services, timeline
from .forms import AuditFilterForm, GrantForm, MemberAddForm, MemberRoleForm, TenantSettingsForm
from .models import Tenant
from .services import tenant_choose


@login_required
@require_POST
def tenant_switch(request):
    """The header's tenant switcher: remember the choice, then back to the page the user was on."""
    if not tenant_choose(request=request, slug=request.POST.get("tenant", "")):
        raise Http404("No such tenant.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return redirect(target)


def _tenant(request, slug, perm) -> Tenant:
    return access.get_object_for_user(Tenant.objects.all(), request.user, perm, slug=slug)


@login_required
@require_safe
def members_page(request, slug):
    """A tenant's members and single-object grants: admins and managers see them, admins change them."""
    tenant = _tenant(request, slug, roles.VIEW_MEMBERS)
    context = {
        "tenant": tenant,
        "members": selectors.members_of(tenant),
        "grants": grants.grants_of(tenant),
        "can_manage": access.can(request.user, roles.MANAGE_MEMBERS, tenant),
        "add_form": MemberAddForm(),
        "grant_form": GrantForm(tenant=tenant),
        "roles": roles.Role.choices,
    }
    return render(request, "tenants/members.html", context)


def _act(request, action, success: str):
    """Run a service for a form's POST; its refusal or success becomes a message on the members page."""
    try:
        result = action()
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success.format(result=result))


def _form_errors(request, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))


@login_required
@require_POST
def member_add(request, slug):
    tenant = _tenant(request, slug, roles.MANAGE_MEMBERS)
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        identifier = form.cleaned_data["user"]

        def add():
            membership, invited = services.member_add(
                tenant=tenant,
                identifier=identifier,
                role=form.cleaned_data["role"],
                actor=request.user,
                base_url=request.build_absolute_uri("/"),
            )
            name = membership.user.get_username()
            return (
                f"Invited {identifier} (user name {name}): they got a link to choose a password."
                if invited
                else (f"Added {name} as {membership.get_role_display().lower()}.")
            )

        _act(request, add, "{result}")
    return redirect("tenants:members", slug=tenant.slug)


@login_required
@require_POST
def member_role(request, slug, member_id):
    tenant = _tenant(request, slug, roles.MANAGE_MEMBERS)
    membership = selectors.member_of(tenant, member_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        role = form.cleaned_data["role"]
        _act(
            request,
            lambda: services.member_change_role(membership=membership, role=role, actor=request.user),
            f"{membership.user.get_username()} is now {roles.Role(role).label.lower()}.",
        )
    return redirect("tenants:members", slug=tenant.slug)


@login_required
@require_POST
def member_remove(request, slug, member_id):
    tenant = _tenant(request, slug, roles.MANAGE_MEMBERS)
    membership = selectors.member_of(tenant, member_id)
    _act(
        request,
        lambda: services.member_remove(membership=membership, actor=request.user),
        f"Removed {membership.user.get_username()} from {tenant.name}.",
    )
    return redirect("tenants:members", slug=tenant.slug)


@login_required
@require_POST
def grant_add(request, slug):
    tenant = _tenant(request, slug, roles.MANAGE_MEMBERS)
    form = GrantForm(request.POST, tenant=tenant)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        kind, object_id = form.grant()
        _act(
            request,
            lambda: services.grant_give(
                tenant=tenant,
                identifier=form.cleaned_data["user"],
                kind=kind,
                object_id=object_id,
                permission=form.cleaned_data["permission"],
                actor=request.user,
                client_ip=client_ip(request),
            ),
            "Granted {result.permission} on {result.kind} {result.target} to {result.user}.",
        )
    return redirect("tenants:members", slug=tenant.slug)


@login_required
@require_POST
def grant_revoke(request, slug, grant_id):
    tenant = _tenant(request, slug, roles.MANAGE_MEMBERS)
    grant = grants.grant_of(tenant, grant_id)
    _act(
        request,
        lambda: services.grant_revoke(grant=grant, actor=request.user, client_ip=client_ip(request)),
        f"Took back {grant.permission} on {grant.kind} {grant.target} from {grant.user}.",
    )
    return redirect("tenants:members", slug=tenant.slug)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def settings_page(request, slug):
    """A tenant's name, logo and console and power settings, for its admins."""
    tenant = _tenant(request, slug, roles.CHANGE_TENANT)
    platform_admin = access.is_platform_admin(request.user)
    data = request.POST if request.method == "POST" else None
    form = TenantSettingsForm(data, instance=tenant, platform_admin=platform_admin)
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.tenant_update(tenant=Tenant.objects.get(pk=tenant.pk), actor=request.user, **changed)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Settings saved." if changed else "Nothing changed.")
            return redirect("tenants:settings", slug=tenant.slug)
    return render(
        request, "tenants/settings.html", {"tenant": tenant, "form": form}, status=400 if form.errors else 200
    )


AUDIT_PAGE_SIZE = 50


@login_required
@require_safe
def audit_page(request):
    """The audit log of the tenants the user administers (everything for platform admins), with filters."""
    form = AuditFilterForm(request.GET)
    filters = form.filters() if form.is_valid() else None
    context = {"form": form, "tenants": list(timeline.audit_tenants(request.user))}
    if filters is not None and (context["tenants"] or access.is_platform_admin(request.user)):
        paginator = Paginator(_TimelineList(request.user, filters), AUDIT_PAGE_SIZE)
        context["page"] = paginator.get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context["query"] = query.urlencode()
    return render(request, "tenants/audit.html", context, status=200 if filters is not None else 400)


class _TimelineList:
    """The timeline as Django's Paginator takes it: a length and slices."""

    def __init__(self, user, filters):
        self.user, self.filters = user, filters

    def count(self) -> int:
        return timeline.timeline_count(self.user, self.filters)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, page: slice):
        return timeline.timeline_page(self.user, self.filters, offset=page.start, limit=page.stop - page.start)
