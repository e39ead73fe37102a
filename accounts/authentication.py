"""API authentication: a personal token (`Authorization: Bearer <token>`), else the browser's session.

The token class comes first so that an anonymous API request is answered 401 with `WWW-Authenticate: Bearer`
(DRF names the first class's scheme), telling a script to log in rather than that it is not allowed.
"""

from datetime import timedelta

from auditlog.context import auditlog_value
from django.utils import timezone
from knox.auth import TokenAuthentication

# How stale a token's recorded last use may get: not a write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(TokenAuthentication):
    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)  # refuses the token of a deactivated owner
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            type(token).objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        _name_the_actor(user)
        return user, token


def _name_the_actor(user) -> None:
    """Model changes made with a token name its owner in django-auditlog, as a session's user is named: its
    middleware picked the actor before DRF authenticated the request."""
    try:
        context = auditlog_value.get()
    except LookupError:
        return
    if context.get("actor") is None:
        context["actor"] = user
