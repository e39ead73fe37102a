"""The Django admin is the operators' tool: it loads for them and for nobody else."""

import pytest
from django.urls import reverse

from servers.models import ProxmoxServer
from tests.conftest import PASSWORD

ADMIN_PAGES = [
    "admin:index",
    "admin:tenants_tenant_changelist",
    "admin:tenants_tenant_add",
    "admin:tenants_membership_changelist",
    "admin:servers_proxmoxserver_changelist",
    "admin:servers_proxmoxserver_add",
    "admin:metrics_connectionmetric_changelist",
    "admin:audit_auditevent_changelist",
    "admin:auth_user_changelist",
    "admin:auditlog_logentry_changelist",
    "admin:console_consolesession_changelist",
]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_load_for_the_platform_admin(client, platform_admin, server_a, page):
    client.force_login(platform_admin)
    assert client.get(reverse(page) + "?q=pve").status_code == 200


def test_object_pages_load_for_the_platform_admin(client, platform_admin, server_a, admin_a):
    client.force_login(platform_admin)
    for url in [
        reverse("admin:servers_proxmoxserver_change", args=[server_a.pk]),
        reverse("admin:servers_proxmoxserver_permissions", args=[server_a.pk]),
        reverse("admin:tenants_tenant_change", args=[server_a.tenant_id]),
        reverse("admin:auth_user_change", args=[admin_a.pk]),
    ]:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("user", ["admin_a", "manager_a", "viewer_a", "outsider"])
def test_admin_is_refused_to_everyone_else(request, client, user):
    client.force_login(request.getfixturevalue(user))
    response = client.get(reverse("admin:servers_proxmoxserver_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_the_token_secret_is_write_only_in_the_admin(client, platform_admin, server_a):
    client.force_login(platform_admin)
    page = client.get(reverse("admin:servers_proxmoxserver_change", args=[server_a.pk])).content.decode()
    assert server_a.token_secret not in page
    assert server_a.token_secret_encrypted not in page


def server_form(tenant, **changes):
    form = {
        "tenant": tenant.pk,
        "name": "pve-new",
        "host": "pve.example.com",
        "port": 8006,
        "token_id": "nexus@pve!broker",
        "token_secret": "new-secret-value",
        "tls_mode": "fingerprint",
        "fingerprint": "ab" * 32,
        "ca_pem": "",
        "tailscale_hostname": "",
        "connection_timeout": 10,
        "is_active": "on",
    }
    form.update(changes)
    return form


def test_an_operator_adds_a_server_with_an_encrypted_secret(client, platform_admin, tenant_a):
    client.force_login(platform_admin)
    response = client.post(reverse("admin:servers_proxmoxserver_add"), server_form(tenant_a))
    assert response.status_code == 302, response.content.decode()[:2000]
    server = ProxmoxServer.objects.get(name="pve-new")
    assert server.token_secret == "new-secret-value"
    assert server.created_by == platform_admin
    assert server.fingerprint == ":".join(["AB"] * 32)


def test_a_new_server_needs_a_secret(client, platform_admin, tenant_a):
    client.force_login(platform_admin)
    response = client.post(reverse("admin:servers_proxmoxserver_add"), server_form(tenant_a, token_secret=""))
    assert response.status_code == 200
    assert not ProxmoxServer.objects.filter(name="pve-new").exists()


def test_editing_without_a_secret_keeps_the_old_one(client, platform_admin, server_a):
    client.force_login(platform_admin)
    url = reverse("admin:servers_proxmoxserver_change", args=[server_a.pk])
    response = client.post(url, server_form(server_a.tenant, name="renamed", token_secret=""))
    assert response.status_code == 302
    server_a.refresh_from_db()
    assert server_a.name == "renamed"
    assert server_a.token_secret == "11111111-2222-3333-4444-555555555555"


def test_the_admin_refuses_a_server_beyond_the_tenant_limit(client, platform_admin, tenant_a, server_a):
    tenant_a.max_servers = 1
    tenant_a.save()
    client.force_login(platform_admin)
    response = client.post(reverse("admin:servers_proxmoxserver_add"), server_form(tenant_a))
    assert response.status_code == 200
    assert "maximum of 1" in response.content.decode()


def test_login_page_and_portal(client, manager_a, server_a, server_b):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("portal:home")).status_code == 302
    client.post(reverse("login"), {"username": "manager-a", "password": PASSWORD})
    page = client.get(reverse("portal:home")).content.decode()
    assert "pve-a" in page and "pve-b" not in page


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


def run_server_action(client, platform_admin, server, action):
    client.force_login(platform_admin)
    response = client.post(
        reverse("admin:servers_proxmoxserver_changelist"),
        {"action": action, "_selected_action": [server.pk]},
        follow=True,
    )
    return [str(message) for message in response.context["messages"]]


def test_the_operator_sees_the_presented_fingerprint_and_whether_it_matches(client, platform_admin, sim_server, pve):
    [message] = run_server_action(client, platform_admin, sim_server, "show_certificate")
    assert pve.fingerprint in message and "matches the pinned one" in message
    pve.rotate_certificate()
    [message] = run_server_action(client, platform_admin, sim_server, "show_certificate")
    assert "DIFFERS" in message
    sim_server.refresh_from_db()
    assert sim_server.fingerprint != pve.fingerprint, "a new fingerprint is never pinned automatically"


def test_the_operator_checks_a_tokens_privileges(client, platform_admin, sim_server, pve):
    pve.add_token("nexus@pve!narrow", "narrow-secret", {"/": {"VM.Audit"}})
    sim_server.token_id = "nexus@pve!narrow"
    sim_server.token_secret = "narrow-secret"
    sim_server.save()
    [message] = run_server_action(client, platform_admin, sim_server, "check_token")
    assert "VM.PowerMgmt" in message and "VM.Console" in message


def test_an_unreachable_server_is_a_clear_message(client, platform_admin, server_a):
    server_a.host, server_a.port = "127.0.0.1", 9
    server_a.save()
    [message] = run_server_action(client, platform_admin, server_a, "show_certificate")
    assert message == "pve-a: Cannot connect to 127.0.0.1:9: Connection refused."
