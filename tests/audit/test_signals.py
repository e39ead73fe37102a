"""Logins are audited and rate limited (django-axes: per IP and per user name, with a cool-off)."""

from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import PASSWORD


def login(client, username, password, ip="203.0.113.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_a_successful_login_and_logout_are_audited(client, manager_a):
    assert login(client, "manager-a", PASSWORD).status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR="203.0.113.7")
    events = list(AuditEvent.objects.order_by("created_at").values_list("action", "outcome", "actor_label", "ip_address"))
    assert events == [
        ("login", "success", "manager-a", "203.0.113.7"),
        ("logout", "success", "manager-a", "203.0.113.7"),
    ]


def test_a_failed_login_is_audited_without_the_password(client, manager_a):
    assert login(client, "manager-a", "wrong-password").status_code == 200
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.actor_label, event.actor) == ("login", "failure", "manager-a", None)
    assert "wrong-password" not in str(event.details)


def test_repeated_failures_for_one_user_lock_it_out_even_with_the_right_password(client, manager_a, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        login(client, "manager-a", "wrong", ip=f"198.51.100.{attempt}")
    response = login(client, "manager-a", PASSWORD, ip="198.51.100.200")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert AuditEvent.objects.filter(outcome="denied").exists()


def test_repeated_failures_from_one_address_lock_that_address_out(client, manager_a, viewer_a, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        login(client, f"nobody-{attempt}", "wrong", ip="192.0.2.9")
    assert login(client, "viewer-a", PASSWORD, ip="192.0.2.9").status_code == 429
    assert login(client, "viewer-a", PASSWORD, ip="192.0.2.10").status_code == 302


def test_the_admin_login_is_rate_limited_too(client, platform_admin, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("admin:login"), {"username": "platform-admin", "password": "x"}, REMOTE_ADDR="192.0.2.1")
    response = client.post(
        reverse("admin:login"), {"username": "platform-admin", "password": PASSWORD}, REMOTE_ADDR="192.0.2.1"
    )
    assert response.status_code == 429
