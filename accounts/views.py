"""Account pages: logging in (both steps), API tokens, two-factor devices, password change and reset, and the
operators' list of users."""

import base64
import json

import segno
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from audit.services import audit_record
from nexus.errors import ApplicationError
from nexus.http import client_ip
from tenants import access, roles
from tenants.models import Tenant

from . import sso
from .forms import (
    ApiTokenForm,
    DeviceRenameForm,
    GroupMappingForm,
    LoginForm,
    ResetForm,
    SecondStepForm,
    TotpConfirmForm,
)
from .models import OidcProvider, SsoMembership
from .ratelimit import rate_limited
from .selectors import (
    SSO_SESSION,
    api_token_of,
    api_tokens_of,
    device_of,
    group_mappings_of,
    has_authenticator,
    may_create_api_token,
    oidc_providers_active,
    passkeys_of,
    recovery_codes_of,
    session_passed_two_factor,
    sso_provider_for_domain,
    totp_devices_of,
    two_factor_required,
    users_for_operator,
    users_with_two_factor,
)
from .services import (
    TOTP_ENROLMENT,
    api_token_create,
    api_token_revoke,
    device_kind,
    device_remove,
    device_rename,
    group_mapping_add,
    group_mapping_remove,
    login_begin,
    login_pending,
    login_second_step,
    password_change_done,
    recovery_codes_generate,
    sso_memberships_sync,
    sso_user,
    totp_enrolment_begin,
    totp_enrolment_confirm,
    two_factor_reset,
    user_delete,
)

# Password reset mails one address may ask for, and reset requests one client address may make, per window.
RESET_LIMIT_PER_EMAIL = 3
RESET_LIMIT_PER_ADDRESS = 10
RESET_WINDOW = 3600
# Attempts on the change form (each checks the current password) before it stops checking for a while, as the
# login does: a stolen session must not become a way to guess the password.
CHANGE_ATTEMPT_LIMIT = 5
CHANGE_WINDOW = 15 * 60


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def tokens_page(request):
    """The user's API tokens; a new one's key is shown on this answer only."""
    form = ApiTokenForm(request.POST if request.method == "POST" else None)
    new_key = None
    if request.method == "POST" and not may_create_api_token(request.user, request):
        form.add_error(None, "Creating an API token needs a login that passed two-factor authentication.")
    elif request.method == "POST" and form.is_valid():
        try:
            _, new_key = api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at(),
                client_ip=client_ip(request),
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            form = ApiTokenForm()
    context = {"form": form, "tokens": api_tokens_of(request.user), "new_key": new_key}
    response = render(request, "accounts/tokens.html", context, status=201 if new_key else 200)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, token_id: int):
    token = api_token_of(request.user, token_id)
    api_token_revoke(token=token, actor=request.user, client_ip=client_ip(request))
    messages.success(request, f"Revoked the token {token.name}: it no longer works.")
    return redirect("accounts:tokens")


@method_decorator(require_http_methods(["GET", "HEAD", "POST"]), name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password-change")

    def post(self, request, *args, **kwargs):
        if rate_limited(f"password-change:{request.user.pk}", limit=CHANGE_ATTEMPT_LIMIT, window=CHANGE_WINDOW):
            messages.error(request, "Too many attempts. Try again in a few minutes.")
            return self.render_to_response(self.get_context_data(), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        kept = self.request.session.session_key
        response = super().form_valid(form)  # keeps this login (with a new key); every other login ends
        password_change_done(
            user=form.user,
            client_ip=client_ip(self.request),
            kept_session_key=kept,
            new_session_key=self.request.session.session_key,
        )
        messages.success(self.request, "Your password was changed. Your other logins and their consoles ended.")
        return response


@method_decorator(require_http_methods(["GET", "HEAD", "POST"]), name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an e-mail address and mails a one-time link; says the same whether the address is known or not."""

    form_class = ResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-sent")

    def form_valid(self, form):
        email = form.cleaned_data["email"].lower()
        over = rate_limited(f"reset-email:{email}", limit=RESET_LIMIT_PER_EMAIL, window=RESET_WINDOW)
        over |= rate_limited(f"reset-ip:{client_ip(self.request)}", limit=RESET_LIMIT_PER_ADDRESS, window=RESET_WINDOW)
        if over:
            form.add_error(None, "Too many reset requests. Try again later.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().form_valid(form)  # mails nobody of a domain that logs in with a provider but its admins
        provider = sso_provider_for_domain(email)
        if provider is None:
            return response
        form.add_error(
            "email",
            f"Accounts of {email.rpartition('@')[2]} log in with {provider.name} and have no password here, so no "
            f"reset link was sent: use “Log in with {provider.name}” on the login page. (Platform admins get one.)",
        )
        return self.render_to_response(self.get_context_data(form=form), status=400)


@method_decorator(require_http_methods(["GET", "HEAD", "POST"]), name="dispatch")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The one-time link of a reset or an invitation: the person chooses a password, then logs in."""

    template_name = "accounts/password_set.html"
    success_url = reverse_lazy("accounts:password-reset-done")

    def form_valid(self, form):
        response = super().form_valid(form)
        password_change_done(user=form.user, client_ip=client_ip(self.request))
        return response


@login_required
@require_safe
def users_page(request):
    """Every account, for platform admins, with deletion."""
    users = users_for_operator(request.user)
    context = {"users": users, "two_factor_users": users_with_two_factor()}
    return render(request, "accounts/users.html", context)


@login_required
@require_POST
def user_delete_view(request, user_id: int):
    user = get_object_or_404(users_for_operator(request.user), pk=user_id)
    try:
        user_delete(user=user, actor=request.user, client_ip=client_ip(request))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Deleted the account {user.get_username()}; its audit history stays.")
    return redirect("accounts:users")


# ------------------------------------------------------------------------------------------------------ logging in


def passkey_config(request) -> str:
    """What django-otp-webauthn's scripts read from #otp_webauthn_config (as text in a hidden element: the page
    has no inline script, not even a JSON one)."""
    return json.dumps(
        {
            "autocompleteLoginFieldSelector": None,
            "nextFieldSelector": "input[name='next']",
            "csrfToken": get_token(request),
            "beginAuthenticationUrl": reverse("accounts:passkey-login-begin"),
            "completeAuthenticationUrl": reverse("accounts:passkey-login-complete"),
            "beginRegistrationUrl": reverse("accounts:passkey-register-begin"),
            "completeRegistrationUrl": reverse("accounts:passkey-register-complete"),
        }
    )


@method_decorator(require_http_methods(["GET", "HEAD", "POST"]), name="dispatch")
class LoginView(auth_views.LoginView):
    """The password step; the second step follows where the account has a second factor. The page also offers
    each identity provider and a login with a passkey alone."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            providers=oidc_providers_active(), passkey_config=passkey_config(self.request), **kwargs
        )

    def form_valid(self, form):
        user = form.get_user()
        next_url = self.get_success_url()
        if login_begin(request=self.request, user=user, backend=user.backend, next_url=next_url):
            return HttpResponseRedirect(next_url)
        return redirect("accounts:login-verify")


@require_http_methods(["GET", "HEAD", "POST"])
def login_verify(request):
    """The second step of a login: a TOTP or recovery code, or a passkey."""
    user, pending = login_pending(request)
    if user is None:
        return redirect("login")
    form = SecondStepForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                login_second_step(request=request, user=user, code=form.cleaned_data["code"])
            except ApplicationError as error:
                form.add_error("code", error.message)
                status = error.status
            else:
                return HttpResponseRedirect(pending["next"])
    context = {
        "form": form,
        "pending_user": user,
        "has_totp": totp_devices_of(user).exists(),
        "has_passkey": passkeys_of(user).exists(),
        "passkey_config": passkey_config(request),
        "next": pending["next"],
    }
    return render(request, "registration/login_verify.html", context, status=status)


# ------------------------------------------------------------------------------------------ two-factor devices


def _devices(user) -> list:
    return [*totp_devices_of(user), *passkeys_of(user)]


@login_required
@require_safe
def security_page(request):
    """The user's second factors: enrol, rename, remove; recovery codes."""
    user = request.user
    context = {
        "devices": [(device_kind(device), device) for device in _devices(user)],
        "recovery": recovery_codes_of(user),
        "required": two_factor_required(user),
        "passed": session_passed_two_factor(request),
        "passkey_config": passkey_config(request),
        "sso_identities": user.oidc_identities.select_related("provider"),
    }
    return render(request, "accounts/security.html", context)


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def _recovery_codes_page(request, codes: list[str], status: int = 201):
    return _no_store(render(request, "accounts/recovery_codes.html", {"codes": codes}, status=status))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def totp_enrol(request):
    """Enrol an authenticator app: its secret and QR code shown once, confirmed by a first code."""
    if not _may_change_devices(request):
        return redirect("accounts:security")
    form = TotpConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = totp_enrolment_confirm(
                request=request, code=form.cleaned_data["code"], name=form.cleaned_data["name"]
            )
        except ApplicationError as error:
            form.add_error("code", error.message)
        else:
            messages.success(request, "Your authenticator app is enrolled: logins now ask for its code.")
            return _recovery_codes_page(request, codes) if codes else redirect("accounts:security")
    # The secret being confirmed stays until it is; a new visit (or an expired one) makes another.
    pending = TOTPDevice.objects.filter(user=request.user, confirmed=False, pk=request.session.get(TOTP_ENROLMENT))
    device = (request.method == "POST" and pending.first()) or totp_enrolment_begin(request=request)
    secret = base64.b32encode(device.bin_key).decode()
    qr = segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2, dark="#000", light="#fff")
    context = {"form": form, "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)), "qr": qr}
    return _no_store(render(request, "accounts/totp_enrol.html", context, status=400 if form.errors else 200))


@login_required
@require_POST
def recovery_codes_view(request):
    """New recovery codes (the old ones stop working), shown once."""
    if not _may_change_devices(request):
        return redirect("accounts:security")
    try:
        codes = recovery_codes_generate(user=request.user, actor=request.user, client_ip=client_ip(request))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("accounts:security")
    return _recovery_codes_page(request, codes)


@login_required
@require_POST
def device_rename_view(request, kind: str, device_id: int):
    device = device_of(request.user, kind, device_id)
    form = DeviceRenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the device a name of at most 64 characters.")
    else:
        try:
            device_rename(
                user=request.user, device=device, name=form.cleaned_data["name"], client_ip=client_ip(request)
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Renamed it {device.name}.")
    return redirect("accounts:security")


@login_required
@require_POST
def device_remove_view(request, kind: str, device_id: int):
    device = device_of(request.user, kind, device_id)
    if _may_change_devices(request):
        try:
            device_remove(user=request.user, device=device, client_ip=client_ip(request))
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Removed {device.name}.")
    return redirect("accounts:security")


def _may_change_devices(request) -> bool:
    """Devices change only in a session that passed the second factor, when the account has one: a stolen
    password alone must not enrol the thief's phone or remove the owner's."""
    if has_authenticator(request.user) and not session_passed_two_factor(request):
        messages.error(request, "Log in with your second factor before you change your devices.")
        return False
    return True


@login_required
@require_POST
def two_factor_reset_view(request, user_id: int):
    user = get_object_or_404(users_for_operator(request.user), pk=user_id)
    count = two_factor_reset(user=user, actor=request.user, client_ip=client_ip(request))
    messages.success(
        request, f"Removed {count} two-factor device(s) of {user.get_username()}: their next login enrols anew."
    )
    return redirect("accounts:users")


# ------------------------------------------------------------------------------------------------ single sign-on

SSO_NEXT = "accounts.sso_next"


@require_safe
def sso_start(request, slug: str):
    """Off to the identity provider's login; it comes back to sso_callback."""
    provider = get_object_or_404(oidc_providers_active(), slug=slug)
    next_url = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure())
    request.session[SSO_NEXT] = next_url if safe else ""
    redirect_uri = request.build_absolute_uri(reverse("accounts:sso-callback", args=[provider.slug]))
    try:
        return sso.authorize_redirect(request, provider, redirect_uri)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("login")


@require_safe
def sso_callback(request, slug: str):
    """The provider's answer: the account it names logs in (the second step follows where it is needed)."""
    provider = get_object_or_404(oidc_providers_active(), slug=slug)
    address = client_ip(request)
    claims = {}
    try:
        id_claims, claims, id_token = sso.authorize_callback(request, provider)
        user = sso_user(provider=provider, claims=claims, client_ip=address)
        sso_memberships_sync(provider=provider, user=user, groups=claims.get(provider.groups_claim), client_ip=address)
    except ApplicationError as error:
        audit_record(
            action="sso login",
            actor_label=str(claims.get("sub", ""))[:150],
            target=provider.name,
            outcome=AuditEvent.Outcome.FAILURE,
            ip_address=address,
            details={"reason": error.message},
        )
        messages.error(request, error.message)
        return redirect("login")
    next_url = request.session.pop(SSO_NEXT, "") or resolve_url(settings.LOGIN_REDIRECT_URL)
    session = {"provider": provider.pk, "id_token": id_token, "mfa": provider.claims_mfa(id_claims)}
    backend = "django.contrib.auth.backends.ModelBackend"
    if login_begin(request=request, user=user, backend=backend, next_url=next_url, sso=session):
        return HttpResponseRedirect(next_url)
    return redirect("accounts:login-verify")


@method_decorator(require_POST, name="dispatch")
class LogoutView(auth_views.LogoutView):
    """Logs out here, then at the identity provider too when the login came from one (RP-initiated logout)."""

    def post(self, request, *args, **kwargs):
        session = request.session.get(SSO_SESSION) or {}
        response = super().post(request, *args, **kwargs)
        provider = OidcProvider.objects.filter(pk=session.get("provider")).first()
        if provider is not None and session.get("id_token"):
            back = request.build_absolute_uri(reverse("login"))
            url = sso.logout_url(provider, id_token=session["id_token"], post_logout_redirect_uri=back)
            if url:
                return HttpResponseRedirect(url)
        return response


# ----------------------------------------------------------------------------------- group mappings, per tenant


def _mapping_tenant(request, slug: str):
    return access.get_object_for_user(Tenant.objects.all(), request.user, roles.MANAGE_MEMBERS, slug=slug)


@login_required
@require_safe
def sso_groups_page(request, slug: str):
    """Which groups of which identity provider make people members of the tenant, and with which role."""
    tenant = _mapping_tenant(request, slug)
    context = {
        "tenant": tenant,
        "mappings": group_mappings_of(tenant),
        "form": GroupMappingForm(),
        "sso_members": SsoMembership.objects.filter(membership__tenant=tenant).select_related(
            "provider", "membership__user"
        ),
    }
    return render(request, "accounts/sso_groups.html", context)


@login_required
@require_POST
def sso_group_add(request, slug: str):
    tenant = _mapping_tenant(request, slug)
    form = GroupMappingForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a provider and a role, and name the group.")
    else:
        try:
            group_mapping_add(tenant=tenant, actor=request.user, **form.cleaned_data)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Members of the group {form.cleaned_data['group']} join at their next login.")
    return redirect("accounts:sso-groups", slug=tenant.slug)


@login_required
@require_POST
def sso_group_remove(request, slug: str, mapping_id: int):
    tenant = _mapping_tenant(request, slug)
    mapping = get_object_or_404(group_mappings_of(tenant), pk=mapping_id)
    group_mapping_remove(mapping=mapping, actor=request.user)
    messages.success(request, f"Unmapped the group {mapping.group}: its members leave at their next login.")
    return redirect("accounts:sso-groups", slug=tenant.slug)


def admin_login(request):
    """The Django admin logs in through the portal's login (with its second step). Someone logged in without the
    admin's rights sees the admin's own "not authorised" page, as before (sending them to the portal's login
    would loop: it sends logged-in people on)."""
    if request.method == "GET" and request.user.is_authenticated:
        return admin.site.login(request)
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"), login_url=reverse("login"))
