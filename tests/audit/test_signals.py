"""Logins and failed logins are audited (the rate limit itself: tests/nexus/test_lockout.py)."""

from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import PASSWORD


def login(client, username, password, ip="203.0.113.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_a_successful_login_and_logout_are_audited(client, manager_a):
    assert login(client, "manager-a", PASSWORD).status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR="203.0.113.7")
    events = list(
        AuditEvent.objects.order_by("created_at").values_list("action", "outcome", "actor_label", "ip_address")
    )
    assert events == [
        ("login", "success", "manager-a", "203.0.113.7"),
        ("logout", "success", "manager-a", "203.0.113.7"),
    ]


def test_a_failed_login_is_audited_without_the_password(client, manager_a):
    assert login(client, "manager-a", "wrong-password").status_code == 200
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.actor_label, event.actor) == ("login", "failure", "manager-a", None)
    assert "wrong-password" not in str(event.details)
