"""Writes of accounts: personal API tokens, the operators deleting users, two-factor devices and the two steps
of logging in."""

import re
import secrets
from datetime import datetime

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.db import transaction
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from audit.models import AuditEvent
from audit.services import audit_record
from nexus.errors import ApplicationError
from nexus.http import client_ip
from nexus.signals import password_changed
from tenants import access
from tenants import services as tenant_services
from tenants.models import Membership
from tenants.roles import Role

from .models import (
    ApiToken,
    GroupMapping,
    OidcIdentity,
    OidcProvider,
    RecoveryCode,
    RecoveryCodes,
    SsoMembership,
    recovery_code_digest,
)
from .selectors import (
    SSO_SESSION,
    has_authenticator,
    passkeys_of,
    recovery_codes_of,
    totp_devices_of,
    two_factor_required,
)


def api_token_create(*, user, name: str, expires_at: datetime | None, client_ip: str | None) -> tuple[ApiToken, str]:
    """A new token of `user`; returns it and its key, which is never available again."""
    name = name.strip()
    if not name:
        raise ApplicationError("Give the token a name, to recognise it in the list.", code="invalid")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("The expiry must be in the future.", code="invalid")
    expiry = None if expires_at is None else expires_at - timezone.now()
    token, key = ApiToken.objects.create(user=user, expiry=expiry, name=name)
    audit_record(
        action="api token created",
        actor=user,
        target=name,
        ip_address=client_ip,
        details={"token": token.pk, "prefix": token.token_key[:8], "expires": expires_at and expires_at.isoformat()},
    )
    return token, key


def api_token_revoke(*, token: ApiToken, actor, client_ip: str | None) -> None:
    audit_record(
        action="api token revoked",
        actor=actor,
        target=token.name,
        ip_address=client_ip,
        details={"token": token.pk, "prefix": token.token_key[:8], "owner": token.user.get_username()},
    )
    token.delete()


def password_change_done(*, user, client_ip: str | None, kept_session_key=None, new_session_key=None) -> None:
    """A password was changed in a login, which stays (its session key was `kept_session_key`, Django gave it
    `new_session_key`), or reset by a mailed link (no login stays). Django's session hash already ends every other
    login at its next request; the consoles they opened end at once (console.receivers)."""
    audit_record(action="password changed" if kept_session_key else "password reset", actor=user, ip_address=client_ip)
    keys = {"kept_session_key": kept_session_key, "new_session_key": new_session_key}
    transaction.on_commit(lambda: password_changed.send(sender=type(user), user=user, **keys))


def user_delete(*, user, actor, client_ip: str | None) -> None:
    """Delete an account: its memberships, grants and tokens go with it; the audit history stays, naming it.

    The last active platform admin stays, so someone can always administer the platform."""
    User = get_user_model()
    if user.pk == actor.pk:
        raise ApplicationError("You cannot delete your own account.", status=409, code="own_account")
    with transaction.atomic():
        admins = list(User.objects.select_for_update().filter(is_superuser=True, is_active=True).values_list("pk"))
        if user.is_superuser and user.is_active and len(admins) <= 1:
            raise ApplicationError("The last platform admin cannot be deleted.", status=409, code="last_platform_admin")
        audit_record(
            action="user deleted",
            actor=actor,
            target=user.get_username(),
            ip_address=client_ip,
            details={"user": user.pk, "email": user.email},
        )
        user.delete()


# ------------------------------------------------------------------------------------------ two-factor authentication

RECOVERY_CODE_COUNT = 10
# 16 characters of a 32-letter alphabet: 80 random bits each, typed in groups of four.
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TOTP_ENROLMENT = "accounts.totp_enrolment"


def _audit_device(action: str, *, user, actor, device, client_ip, **details) -> None:
    audit_record(
        action=action,
        actor=actor,
        target=user.get_username(),
        ip_address=client_ip,
        details={"kind": device_kind(device), "device": device.name, **details},
    )


def device_kind(device) -> str:
    if isinstance(device, TOTPDevice):
        return "totp"
    if isinstance(device, RecoveryCodes):
        return "recovery"
    return "passkey"


def totp_enrolment_begin(*, request) -> TOTPDevice:
    """A new, unconfirmed TOTP device whose secret the enrolment page shows once; a reload makes another one."""
    user = request.user
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    request.session[TOTP_ENROLMENT] = device.pk
    return device


def totp_enrolment_confirm(*, request, code: str, name: str) -> list[str]:
    """Confirm the TOTP device being enrolled with its first code; returns new recovery codes when this is the
    user's first second factor (else an empty list)."""
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False, pk=request.session.get(TOTP_ENROLMENT)).first()
    if device is None:
        raise ApplicationError("This enrolment expired: scan the new code and try again.", code="enrolment_expired")
    if not device.verify_token(code.strip()):
        raise ApplicationError(
            "That code is not the current one: check the app shows Proxmox VNC Nexus and the clock of the phone is "
            "right, then type the newest code.",
            code="invalid_code",
        )
    first = not has_authenticator(user)
    device.confirmed = True
    device.name = name.strip()[:64] or "Authenticator app"
    device.save(update_fields=["confirmed", "name"])
    del request.session[TOTP_ENROLMENT]
    otp_login(request, device)  # this session has now used a second factor
    _audit_device("two-factor enrolled", user=user, actor=user, device=device, client_ip=client_ip(request))
    return recovery_codes_generate(user=user, actor=user, client_ip=client_ip(request)) if first else []


def passkey_enrolled(*, request, device) -> None:
    _audit_device(
        "two-factor enrolled", user=request.user, actor=request.user, device=device, client_ip=client_ip(request)
    )


def recovery_codes_generate(*, user, actor, client_ip: str | None) -> list[str]:
    """Ten new one-time recovery codes, replacing any earlier ones; returned once, stored as digests only."""
    if not has_authenticator(user):
        raise ApplicationError("Enrol an authenticator app or a passkey first.", status=409, code="no_authenticator")
    codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16)) for _ in range(RECOVERY_CODE_COUNT)]
    with transaction.atomic():
        RecoveryCodes.objects.filter(user=user).delete()
        device = RecoveryCodes.objects.create(user=user, name="Recovery codes")
        RecoveryCode.objects.bulk_create(RecoveryCode(device=device, digest=recovery_code_digest(c)) for c in codes)
    _audit_device("recovery codes generated", user=user, actor=actor, device=device, client_ip=client_ip)
    return ["-".join(code[i : i + 4] for i in range(0, 16, 4)) for code in codes]


def device_rename(*, user, device, name: str, client_ip: str | None) -> None:
    name = name.strip()
    if not name:
        raise ApplicationError("Give the device a name, to recognise it in the list.", code="invalid")
    old, device.name = device.name, name[:64]
    device.save(update_fields=["name"])
    _audit_device("two-factor renamed", user=user, actor=user, device=device, client_ip=client_ip, old_name=old)


def device_remove(*, user, device, client_ip: str | None) -> None:
    """Remove one of the user's devices. The last authenticator goes only where no policy requires a second
    factor; the recovery codes go with it (they stand in for an authenticator, never alone)."""
    with transaction.atomic():
        others = [d for d in [*totp_devices_of(user), *passkeys_of(user)] if d.persistent_id != device.persistent_id]
        last = not isinstance(device, RecoveryCodes) and not others
        if last and two_factor_required(user):
            raise ApplicationError(
                "Two-factor authentication is required for your account: enrol another authenticator before you "
                "remove this one.",
                status=409,
                code="last_device",
            )
        device.delete()
        if last:
            RecoveryCodes.objects.filter(user=user).delete()
    _audit_device("two-factor removed", user=user, actor=user, device=device, client_ip=client_ip)


def two_factor_reset(*, user, actor, client_ip: str | None) -> int:
    """A platform admin removes every second factor of someone who lost theirs; returns how many went."""
    if not access.is_platform_admin(actor):
        raise ApplicationError("Only platform admins reset two-factor authentication.", status=403, code="forbidden")
    count = 0
    with transaction.atomic():
        for model in (TOTPDevice, WebAuthnCredential, RecoveryCodes):
            devices = model.objects.filter(user=user)
            count += devices.count()
            devices.delete()
    audit_record(
        action="two-factor reset",
        actor=actor,
        target=user.get_username(),
        ip_address=client_ip,
        details={"user": user.pk, "devices": count},
    )
    return count


# ------------------------------------------------------------------------------------------ logging in, two steps

PENDING_LOGIN = "accounts.pending_login"


def login_begin(*, request, user, backend: str, next_url: str, sso: dict | None = None) -> bool:
    """The first step succeeded (a password, or an identity provider). Logs in at once and returns True when no
    second step is needed; else remembers who is logging in and returns False (the second step completes it)."""
    if (sso and sso.get("mfa")) or not has_authenticator(user):
        _login(request, user, backend, sso)
        return True
    request.session.cycle_key()
    request.session[PENDING_LOGIN] = {"user": user.pk, "backend": backend, "next": next_url, "sso": sso}
    return False


def login_pending(request) -> tuple[object, dict] | tuple[None, None]:
    """Who is between the two steps of logging in, and how they got there; (None, None) when nobody is."""
    pending = request.session.get(PENDING_LOGIN)
    if not pending:
        return None, None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return (user, pending) if user else (None, None)


def login_second_step(*, request, user, code: str):
    """Check a TOTP or recovery code of the user between the two steps; logs in and returns the device that
    matched. Each wrong code counts against the login rate limit, as a wrong password does."""
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        raise ApplicationError("Too many failed attempts. Try again later.", status=429, code="locked_out")
    code = "".join(code.split())
    device = None
    if code.isdigit():
        device = next((d for d in totp_devices_of(user) if d.verify_token(code)), None)
    elif (recovery := recovery_codes_of(user)) and recovery.verify_token(code):
        device = recovery
        audit_record(
            action="recovery code used",
            actor=user,
            target=user.get_username(),
            ip_address=client_ip(request),
            details={"remaining": recovery.remaining},
        )
    if device is None:
        AxesProxyHandler.user_login_failed(sender=login_second_step, credentials=credentials, request=request)
        login_second_step_failed(request=request, user=user, method="code")
        if AxesProxyHandler.is_locked(request, credentials):
            raise ApplicationError("Too many failed attempts. Try again later.", status=429, code="locked_out")
        raise ApplicationError("That code is not valid. Try the newest one, or a recovery code.", code="invalid_code")
    login_complete(request=request, device=device)
    return device


def login_second_step_failed(*, request, user, method: str) -> None:
    audit_record(
        action="login second step",
        actor=user,
        target=user.get_username(),
        ip_address=client_ip(request),
        outcome=AuditEvent.Outcome.FAILURE,
        details={"method": method},
    )


def login_complete(*, request, device, backend: str | None = None) -> None:
    """The second step passed with `device`: log its user in (a passkey alone may be both steps)."""
    pending = request.session.pop(PENDING_LOGIN, None) or {}
    _login(request, device.user, backend or pending.get("backend"), pending.get("sso"))
    otp_login(request, device)


def _login(request, user, backend: str, sso: dict | None) -> None:
    auth_login(request, user, backend=backend)
    if sso:
        request.session[SSO_SESSION] = sso


# ------------------------------------------------------------------------------------------------ single sign-on

_ROLE_RANK = {Role.VIEWER: 0, Role.MANAGER: 1, Role.ADMIN: 2}


def sso_user(*, provider: OidcProvider, claims: dict, client_ip: str | None):
    """The local account of whoever the provider vouched for: by its subject; on a first login by a verified
    e-mail address (where the operator allows it) or a new account (where allowed)."""
    subject = str(claims["sub"])
    identity = OidcIdentity.objects.filter(provider=provider, subject=subject).select_related("user").first()
    if identity is None:
        user = _sso_first_login(provider=provider, claims=claims, client_ip=client_ip)
        identity = OidcIdentity.objects.create(provider=provider, subject=subject, user=user)
    if not identity.user.is_active:
        raise ApplicationError("Your account here is deactivated.", status=403, code="inactive")
    identity.last_login_at = timezone.now()
    identity.save(update_fields=["last_login_at"])
    return identity.user


def _sso_first_login(*, provider: OidcProvider, claims: dict, client_ip: str | None):
    User = get_user_model()
    email = str(claims.get("email") or "")
    if provider.match_verified_email and email and claims.get("email_verified") is True:
        matches = list(User.objects.filter(email__iexact=email)[:2])
        if len(matches) == 1:
            audit_record(
                action="sso account linked",
                actor=matches[0],
                target=provider.name,
                ip_address=client_ip,
                details={"subject": claims["sub"], "email": email},
            )
            return matches[0]
    if not provider.create_users:
        raise ApplicationError(
            f"No account here belongs to your {provider.name} login. Ask an administrator to add you.",
            status=403,
            code="no_account",
        )
    username = _sso_username(str(claims.get("preferred_username") or email.partition("@")[0] or claims["sub"]))
    user = User(username=username, email=email, first_name=str(claims.get("given_name", ""))[:150])
    user.last_name = str(claims.get("family_name", ""))[:150]
    user.set_unusable_password()
    user.save()
    audit_record(
        action="sso account created",
        actor=user,
        target=provider.name,
        ip_address=client_ip,
        details={"subject": claims["sub"], "email": email},
    )
    return user


def _sso_username(wanted: str) -> str:
    User = get_user_model()
    base = re.sub(r"[^\w.@+-]", "", wanted)[:140] or "user"
    name, number = base, 1
    while User.objects.filter(username=name).exists():
        number += 1
        name = f"{base}{number}"
    return name


def sso_memberships_sync(*, provider: OidcProvider, user, groups, client_ip: str | None) -> None:
    """Make the user's memberships that this provider's group mappings give follow the groups the provider
    names now: added, changed, and removed with the group (memberships made by hand are left alone). The last
    admin of a tenant stays, as everywhere."""
    groups = [groups] if isinstance(groups, str) else [str(group) for group in groups or []]
    wanted: dict[int, str] = {}
    for mapping in GroupMapping.objects.filter(provider=provider, group__in=groups):
        if _ROLE_RANK[mapping.role] >= _ROLE_RANK.get(wanted.get(mapping.tenant_id), -1):
            wanted[mapping.tenant_id] = mapping.role
    managed = {
        sso.membership.tenant_id: sso.membership
        for sso in SsoMembership.objects.filter(provider=provider, membership__user=user).select_related("membership")
    }
    for tenant_id, role in wanted.items():
        membership = managed.get(tenant_id)
        if membership is None and not Membership.objects.filter(user=user, tenant_id=tenant_id).exists():
            membership = Membership.objects.create(user=user, tenant_id=tenant_id, role=role)
            SsoMembership.objects.create(provider=provider, membership=membership)
            _sso_membership_event("sso membership added", membership, provider, client_ip)
        elif (
            membership is not None
            and membership.role != role
            and _follow(
                lambda m=membership, r=role: tenant_services.member_change_role(membership=m, role=r, actor=None)
            )
        ):
            _sso_membership_event("sso membership changed", membership, provider, client_ip)
    for tenant_id, membership in managed.items():
        if tenant_id not in wanted and _follow(
            lambda m=membership: tenant_services.member_remove(membership=m, actor=None)
        ):
            _sso_membership_event("sso membership removed", membership, provider, client_ip)


def _follow(change) -> bool:
    try:
        change()
    except ApplicationError:  # the last admin of a tenant stays one
        return False
    return True


def _sso_membership_event(action: str, membership, provider: OidcProvider, client_ip: str | None) -> None:
    audit_record(
        action=action,
        actor=membership.user,
        tenant=membership.tenant,
        target=membership.user.get_username(),
        ip_address=client_ip,
        details={"provider": provider.name, "role": membership.role},
    )


def group_mapping_add(*, provider: OidcProvider, group: str, tenant, role: str, actor) -> GroupMapping:
    group = group.strip()
    if not group:
        raise ApplicationError("Name the group as the provider's claim names it.", code="invalid")
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code="invalid")
    mapping, created = GroupMapping.objects.get_or_create(
        provider=provider, group=group, tenant=tenant, defaults={"role": role}
    )
    if not created:
        raise ApplicationError(f"The group {group} is mapped already.", status=409, code="exists")
    return mapping


def group_mapping_remove(*, mapping: GroupMapping, actor) -> None:
    """The mapping goes; the memberships it made go at their next login (their groups no longer map)."""
    mapping.delete()
