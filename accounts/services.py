"""Writes of accounts: personal API tokens, and the operators deleting users."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from nexus.errors import ApplicationError

from .models import ApiToken


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
