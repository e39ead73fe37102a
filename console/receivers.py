"""Taking access away ends what it gave, at once: whenever a change can take a console away from someone, the
open consoles it concerns are re-checked through the choke point once the change is committed, and those no
longer allowed end with CloseReason.WITHDRAWN ("your access was withdrawn").

The changes are heard as model signals of the apps below (tenants and servers cannot call console), so an edit in
the portal, the API or the Django admin counts alike:
- a membership changed (role lowered) or removed; a single-object grant (django-guardian) taken back; a single
  guest's grant (vms.GuestGrant) changed or taken back;
- a user deactivated; a tenant deactivated or its consoles turned off; a server deactivated;
- a user, tenant or server deleted (their session records go with them: the consumers are told before);
- a logout: the consoles opened from that login session; a password changed or reset: those of every other login.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from guardian.models import UserObjectPermission

from nexus.signals import password_changed
from servers.models import ProxmoxServer
from tenants.models import Membership, Tenant
from vms.models import GuestGrant

from .models import ConsoleSession
from .services import (
    console_sessions_end_login,
    console_sessions_end_now,
    console_sessions_end_other_logins,
    console_sessions_withdraw,
)


def _recheck(**lookup) -> None:
    transaction.on_commit(lambda: console_sessions_withdraw(sessions=ConsoleSession.objects.filter(**lookup)))


def _recheck_user(sender, instance, **kwargs) -> None:
    _recheck(user_id=instance.user_id)


def _recheck_account(sender, instance, created=False, **kwargs) -> None:
    if not created:
        _recheck(user_id=instance.pk)


def _recheck_tenant(sender, instance, created=False, **kwargs) -> None:
    if not created:
        _recheck(tenant_id=instance.pk)


def _recheck_server(sender, instance, created=False, **kwargs) -> None:
    if not created:
        _recheck(server_id=instance.pk)


def _end_before_delete(field: str):
    def receiver(sender, instance, **kwargs) -> None:
        # Read now (the rows go with the delete), told once the delete is committed.
        sessions = list(ConsoleSession.objects.open().filter(**{field: instance.pk}))
        transaction.on_commit(lambda: console_sessions_end_now(sessions=sessions))

    return receiver


def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None and request is not None:
        key = request.session.session_key
        transaction.on_commit(lambda: console_sessions_end_login(user=user, session_key=key))


def _password_changed(sender, user, kept_session_key, new_session_key, **kwargs) -> None:
    console_sessions_end_other_logins(user=user, kept_session_key=kept_session_key, new_session_key=new_session_key)


def connect() -> None:
    User = get_user_model()
    post_save.connect(_recheck_user, sender=Membership, dispatch_uid="console-membership-saved")
    post_delete.connect(_recheck_user, sender=Membership, dispatch_uid="console-membership-deleted")
    post_delete.connect(_recheck_user, sender=UserObjectPermission, dispatch_uid="console-grant-deleted")
    post_save.connect(_recheck_user, sender=GuestGrant, dispatch_uid="console-guest-grant-saved")
    post_delete.connect(_recheck_user, sender=GuestGrant, dispatch_uid="console-guest-grant-deleted")
    post_save.connect(_recheck_account, sender=User, dispatch_uid="console-user-saved")
    post_save.connect(_recheck_tenant, sender=Tenant, dispatch_uid="console-tenant-saved")
    post_save.connect(_recheck_server, sender=ProxmoxServer, dispatch_uid="console-server-saved")
    pre_delete.connect(_end_before_delete("user_id"), sender=User, dispatch_uid="console-user-deleted", weak=False)
    pre_delete.connect(
        _end_before_delete("tenant_id"), sender=Tenant, dispatch_uid="console-tenant-deleted", weak=False
    )
    pre_delete.connect(
        _end_before_delete("server_id"), sender=ProxmoxServer, dispatch_uid="console-server-deleted", weak=False
    )
    user_logged_out.connect(_logged_out, dispatch_uid="console-logged-out")
    password_changed.connect(_password_changed, dispatch_uid="console-password-changed")
