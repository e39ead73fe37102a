"""Operators end console sessions from the admin; the token hash never shows."""

from django.urls import reverse


def test_the_operator_ends_a_console_session_from_the_admin(client, platform_admin, manager_a, server_a):
    from audit.models import AuditEvent
    from tests.conftest import make_console_session

    session = make_console_session(manager_a, server_a)
    client.force_login(platform_admin)
    response = client.post(
        reverse("admin:console_consolesession_changelist"),
        {"action": "terminate", "_selected_action": [session.pk]},
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.close_reason == "terminated"
    assert AuditEvent.objects.filter(action="console terminated", actor=platform_admin).exists()
    page = client.get(reverse("admin:console_consolesession_change", args=[session.pk])).content.decode()
    assert session.token_hash not in page
