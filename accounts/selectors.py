"""Reads of accounts."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from tenants import access
from tenants.models import Tenant

from .models import ApiToken, GroupMapping, OidcProvider, PlatformSecurity, RecoveryCodes


def api_tokens_of(user) -> QuerySet:
    """A user's own tokens: nobody else's are ever listed to them."""
    return ApiToken.objects.filter(user=user)


def api_token_of(user, token_id) -> ApiToken:
    return get_object_or_404(api_tokens_of(user), pk=token_id)


def users_for_operator(user) -> QuerySet:
    """Every account with how many tenants it belongs to, for platform admins; 403 for anyone else."""
    if not access.is_platform_admin(user):
        raise PermissionDenied("Only platform admins manage accounts.")
    return get_user_model().objects.annotate(tenant_count=Count("memberships")).order_by("username")


# ------------------------------------------------------------------------------------------ two-factor authentication

# The session's mark that an identity provider checked a second factor (accounts.sso): django-otp knows only its
# own devices.
SSO_SESSION = "accounts.sso"


def totp_devices_of(user) -> QuerySet:
    return TOTPDevice.objects.filter(user=user, confirmed=True)


def passkeys_of(user) -> QuerySet:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True)


def recovery_codes_of(user) -> RecoveryCodes | None:
    return RecoveryCodes.objects.filter(user=user).first()


def has_authenticator(user) -> bool:
    """Whether the user enrolled a second factor (a TOTP app or a passkey; recovery codes only stand in for one)."""
    return totp_devices_of(user).exists() or passkeys_of(user).exists()


def two_factor_required(user) -> bool:
    """Whether the platform's policy, or a tenant the user works in, requires a second factor of this user: as a
    member, or holding a grant on one of its servers or guests (a customer's console is a way in as much)."""
    policy = PlatformSecurity.current()
    if policy.require_two_factor_for_everyone or (policy.require_two_factor_for_platform_admins and user.is_superuser):
        return True
    requiring = Tenant.objects.filter(require_two_factor=True)
    if access.is_platform_admin(user):
        # Every tenant is within a platform admin's reach: a tenant's own policy binds them where they are members.
        return requiring.filter(is_active=True, memberships__user=user).exists()
    return access.reachable(requiring, user).exists()


def session_passed_two_factor(request) -> bool:
    """Whether this browser session's login used a second factor: a device of ours, or the identity provider's."""
    user = request.user
    if not user.is_authenticated:
        return False
    if getattr(user, "is_verified", None) and user.is_verified():
        return True
    return bool(request.session.get(SSO_SESSION, {}).get("mfa"))


def device_of(user, kind: str, device_id) -> Device:
    """One of the user's own devices, by kind ("totp", "passkey", "recovery"); 404 for anyone else's."""
    querysets = {
        "totp": totp_devices_of(user),
        "passkey": passkeys_of(user),
        "recovery": RecoveryCodes.objects.filter(user=user),
    }
    if kind not in querysets:
        raise Http404("No such kind of device.")
    return get_object_or_404(querysets[kind], pk=device_id)


# ------------------------------------------------------------------------------------------------ single sign-on


def oidc_providers_active() -> QuerySet:
    return OidcProvider.objects.filter(is_active=True)


def sso_provider_for_domain(email: str) -> OidcProvider | None:
    """The active provider whose domain an address is in, when that domain's password login is turned off."""
    domain = email.rpartition("@")[2].lower()
    if not domain:
        return None
    return next((provider for provider in oidc_providers_active() if domain in provider.domains), None)


def group_mappings_of(tenant) -> QuerySet:
    return GroupMapping.objects.filter(tenant=tenant).select_related("provider")


def users_with_two_factor() -> set[int]:
    """The ids of every account with an authenticator (for the operators' list of users)."""
    return {
        user_id
        for model in (TOTPDevice, WebAuthnCredential)
        for user_id in model.objects.filter(confirmed=True).values_list("user_id", flat=True)
    }


def may_create_api_token(user, request) -> bool:
    """A new API token needs a browser session that passed the second factor, when the user has one: a leaked
    password, or a token, must not mint tokens that outlive the 2FA. `request` is Django's (not DRF's)."""
    return not has_authenticator(user) or (request.user == user and session_passed_two_factor(request))
