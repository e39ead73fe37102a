from datetime import timedelta

from django.utils import timezone

from console.services import HEARTBEAT_INTERVAL, HEARTBEAT_LOST
from console.tasks import close_stale_sessions
from tests.conftest import make_console_session


def session(user, server, last_seen_ago, **fields):
    last_seen_at = timezone.now() - last_seen_ago
    return make_console_session(
        user, server, token_expires_at=last_seen_at, opened_at=last_seen_at, last_seen_at=last_seen_at, **fields
    )


def test_sessions_whose_relay_stopped_beating_are_closed_with_that_reason(manager_a, server_a):
    lost = session(manager_a, server_a, HEARTBEAT_LOST + timedelta(seconds=1), channel_name="specific.x!dead")
    live = session(manager_a, server_a, HEARTBEAT_INTERVAL)
    close_stale_sessions.apply()
    lost.refresh_from_db()
    live.refresh_from_db()
    assert lost.closed_at is not None and lost.close_reason == "relay_lost"
    assert lost.channel_name == "", "nothing is left to tell: a repeated End says it has ended"
    assert live.closed_at is None


def test_a_session_ended_whose_relay_then_died_is_no_longer_told(manager_a, server_a):
    ended = session(
        manager_a,
        server_a,
        HEARTBEAT_LOST * 2,
        channel_name="specific.x!dead",
        closed_at=timezone.now(),
        close_reason="terminated",
    )
    close_stale_sessions.apply()
    ended.refresh_from_db()
    assert (ended.close_reason, ended.channel_name) == ("terminated", "")


def test_tokens_nobody_used_are_closed_once_they_expire(manager_a, server_a):
    expired = make_console_session(manager_a, server_a, token_expires_at=timezone.now() - timedelta(seconds=1))
    waiting = make_console_session(manager_a, server_a, token_expires_at=timezone.now() + timedelta(seconds=30))
    close_stale_sessions.apply()
    expired.refresh_from_db()
    waiting.refresh_from_db()
    assert expired.closed_at and expired.close_reason == "token_expired"
    assert waiting.closed_at is None
