"""Writes of tenants, memberships and single-object grants.

Every change that can take access away is heard by console.receivers (model signals), which ends the open consoles
it no longer allows. Members and settings changes are published as tenant events for open pages.
"""

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from audit.services import audit_record
from nexus.errors import ApplicationError

from . import grants, selectors
from .events import tenant_event_publish
from .models import Membership, Tenant
from .roles import Role

MEMBERS_CHANGED = "members.changed"
TENANT_CHANGED = "tenant.changed"

# Where an address logs in through an identity provider instead of a password: each lookup (accounts registers its
# providers) gives the provider's name for an e-mail address, or None. Its invitations lead to the login page.
_SIGN_IN_PROVIDER_LOOKUPS = []


def invitation_sign_in_provider_register(lookup) -> None:
    _SIGN_IN_PROVIDER_LOOKUPS.append(lookup)


def _sign_in_provider(email: str) -> str | None:
    return next(filter(None, (lookup(email) for lookup in _SIGN_IN_PROVIDER_LOOKUPS)), None)


def tenant_choose(*, request, slug: str) -> bool:
    """Remember the tenant the user chose in the header; False when they do not reach it."""
    if not selectors.tenants_reachable(request.user).filter(slug=slug).exists():
        return False
    request.session[selectors.CURRENT_TENANT] = slug
    return True


# ------------------------------------------------------------------------------------------------------ tenants


def tenant_create(*, actor, **fields) -> Tenant:
    tenant = Tenant(created_by=actor, **fields)
    _save(tenant)
    return tenant


def tenant_update(*, tenant: Tenant, actor, **fields) -> Tenant:
    """Change a tenant's details or settings (what a caller may change is the API's and the form's to decide)."""
    for name, value in fields.items():
        setattr(tenant, name, value)
    _save(tenant)
    tenant_event_publish(tenant_id=tenant.pk, kind=TENANT_CHANGED, data={"fields": sorted(fields)})
    return tenant


def tenant_delete(*, tenant: Tenant, actor) -> None:
    if tenant.servers.exists():
        raise ApplicationError(
            f"{tenant.name} still has servers: remove them first, or deactivate the tenant instead.",
            status=409,
            code="tenant_has_servers",
        )
    tenant.delete()


def _save(tenant: Tenant) -> None:
    try:
        tenant.full_clean()
    except ValidationError as error:
        raise ApplicationError(" ".join(error.messages), code="invalid") from None
    tenant.save()


# ------------------------------------------------------------------------------------------------------ members


def _find_user(identifier: str):
    """The account a user name or e-mail address names; None when none does. An address several accounts share
    names none of them: the caller is asked for the user name instead."""
    User = get_user_model()
    identifier = identifier.strip()
    user = User.objects.filter(username=identifier).first()
    if user is None and "@" in identifier:
        matches = list(User.objects.filter(email__iexact=identifier)[:2])
        if len(matches) > 1:
            raise ApplicationError(
                f"Several accounts have the address {identifier}: give the user name instead.",
                status=409,
                code="ambiguous_email",
            )
        user = matches[0] if matches else None
    return user


def member_add(*, tenant: Tenant, identifier: str, role: str, actor, base_url: str) -> tuple[Membership, bool]:
    """Make someone a member: an existing account by user name or e-mail address, or, for an address no account
    has, a new account without a password, to which a one-time link to choose one is mailed.
    Returns the membership and whether it is an invitation."""
    _check_role(role)
    user = _find_user(identifier)
    invited = user is None
    if invited:
        user = _invite(identifier, tenant=tenant, actor=actor, base_url=base_url)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(user=user, tenant=tenant, role=role)
    except IntegrityError:
        raise ApplicationError(
            f"{user.get_username()} is a member already.", status=409, code="already_member"
        ) from None
    tenant_event_publish(tenant_id=tenant.pk, kind=MEMBERS_CHANGED, data={"added": user.pk})
    return membership, invited


def _invite(email: str, *, tenant: Tenant, actor, base_url: str):
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError(
            f"No account is named {email!r}. Give an existing user name, or an e-mail address to invite.",
            status=400,
            code="no_such_user",
        ) from None
    User = get_user_model()
    user = User(username=_free_username(email), email=email)
    user.set_unusable_password()
    user.save()
    provider = _sign_in_provider(email)
    if provider:  # a password could not be used: the address logs in through its provider
        path = reverse("login")
    else:
        token = {
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        }
        path = reverse("accounts:password-reset-confirm", kwargs=token)
    context = {
        "tenant": tenant,
        "inviter": actor,
        "user": user,
        "link": base_url.rstrip("/") + path,
        "provider": provider,
    }
    send_mail(
        f"You are invited to {tenant.name} on Proxmox VNC Nexus",
        render_to_string("tenants/email/invitation.txt", context),
        None,
        [email],
    )
    audit_record(action="member invited", actor=actor, tenant=tenant, target=email, details={"user": user.username})
    return user


def _free_username(email: str) -> str:
    User = get_user_model()
    base = re.sub(r"[^\w.@+-]", "", email.split("@")[0])[:140] or "user"
    name, number = base, 1
    while User.objects.filter(username=name).exists():
        number += 1
        name = f"{base}{number}"
    return name


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}: one of {', '.join(Role.values)}.", code="invalid")


def _keep_an_admin(membership: Membership) -> None:
    """The last admin of a tenant stays one: somebody must be able to manage it."""
    admins = Membership.objects.select_for_update().filter(tenant_id=membership.tenant_id, role=Role.ADMIN)
    if membership.role == Role.ADMIN and list(admins.values_list("pk", flat=True)) == [membership.pk]:
        raise ApplicationError(
            f"{membership.user.get_username()} is the last admin of {membership.tenant.name}: make someone else "
            "admin first.",
            status=409,
            code="last_admin",
        )


def member_change_role(*, membership: Membership, role: str, actor) -> Membership:
    _check_role(role)
    with transaction.atomic():
        if role != Role.ADMIN:
            _keep_an_admin(membership)
        membership.role = role
        membership.save(update_fields=["role"])
    tenant_event_publish(tenant_id=membership.tenant_id, kind=MEMBERS_CHANGED, data={"changed": membership.user_id})
    return membership


def member_remove(*, membership: Membership, actor) -> None:
    with transaction.atomic():
        _keep_an_admin(membership)
        membership.delete()
    tenant_event_publish(tenant_id=membership.tenant_id, kind=MEMBERS_CHANGED, data={"removed": membership.user_id})


# ------------------------------------------------------------------------------------------------------- grants


def grant_give(*, tenant: Tenant, identifier: str, kind: str, object_id, permission: str, actor, client_ip=None):
    """Grant one permission on one object of the tenant (a server), or on one part of one (a guest), to a member
    or an outside account."""
    user = _find_user(identifier)
    if user is None:
        raise ApplicationError(f"No account is named {identifier!r}.", status=400, code="no_such_user")
    grant = grants.kind(kind).give(tenant, user, object_id, permission, actor)
    _audit_grant("grant given", grant, actor=actor, client_ip=client_ip)
    tenant_event_publish(tenant_id=tenant.pk, kind=MEMBERS_CHANGED, data={"granted": user.pk})
    return grant


def grant_revoke(*, grant: "grants.Grant", actor, client_ip=None) -> None:
    """Take a grant back; the consoles it gave end (console.receivers hears the change)."""
    grants.kind(grant.kind).take_back(grant)
    _audit_grant("grant revoked", grant, actor=actor, client_ip=client_ip)
    tenant_event_publish(tenant_id=grant.tenant.pk, kind=MEMBERS_CHANGED, data={"revoked": grant.user.pk})


def _audit_grant(action: str, grant: "grants.Grant", *, actor, client_ip) -> None:
    audit_record(
        action=action,
        actor=actor,
        tenant=grant.tenant,
        target=f"{grant.kind} {grant.target}",
        ip_address=client_ip,
        details={"user": grant.user.get_username(), "permission": grant.permission},
    )
