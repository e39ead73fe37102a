"""Logins, logouts and failed logins as audit events (Django only tells of them through signals)."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from nexus.http import client_ip

from .models import AuditEvent
from .services import audit_record


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_record(action="login", actor=user, ip_address=client_ip(request) if request else None)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action="logout", actor=user, ip_address=client_ip(request) if request else None)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # The credentials dict is already scrubbed of the password by Django; keep only the name tried.
    audit_record(
        action="login",
        actor_label=str(credentials.get("username", ""))[:150],
        outcome=AuditEvent.Outcome.FAILURE,
        ip_address=client_ip(request) if request else None,
    )


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    audit_record(
        action="login",
        actor_label=str(username or "")[:150],
        outcome=AuditEvent.Outcome.DENIED,
        ip_address=ip_address,
        details={"reason": "too many failed logins"},
    )
