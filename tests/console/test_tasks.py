from datetime import timedelta

from django.utils import timezone

from console.tasks import close_stale_sessions
from tests.conftest import make_console_session


def session(user, server, opened_ago):
    opened_at = timezone.now() - opened_ago
    return make_console_session(user, server, token_expires_at=opened_at, opened_at=opened_at)


def test_sessions_open_past_the_maximum_duration_are_closed(manager_a, server_a):
    server_a.tenant.console_max_duration = 3600
    server_a.tenant.save()
    stale = session(manager_a, server_a, timedelta(hours=2))
    live = session(manager_a, server_a, timedelta(minutes=30))
    close_stale_sessions.apply()
    stale.refresh_from_db()
    live.refresh_from_db()
    assert stale.closed_at is not None and stale.close_reason == "error"
    assert live.closed_at is None


def test_tokens_nobody_used_are_closed_once_they_expire(manager_a, server_a):
    expired = make_console_session(manager_a, server_a, token_expires_at=timezone.now() - timedelta(seconds=1))
    waiting = make_console_session(manager_a, server_a, token_expires_at=timezone.now() + timedelta(seconds=30))
    close_stale_sessions.apply()
    expired.refresh_from_db()
    waiting.refresh_from_db()
    assert expired.closed_at and expired.close_reason == "token_expired"
    assert waiting.closed_at is None
