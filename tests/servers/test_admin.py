"""The server admin: the token secret is write-only, the limit holds, actions report per server."""

from django.urls import reverse

from servers.models import ProxmoxServer


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


def test_a_tenant_that_is_no_id_is_a_form_error(client, platform_admin, tenant_a):
    client.force_login(platform_admin)
    response = client.post(reverse("admin:servers_proxmoxserver_add"), {**server_form(tenant_a), "tenant": "abc"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["tenant"]
    assert not ProxmoxServer.objects.filter(name="pve-new").exists()


def test_an_inactive_server_is_not_asked_for_its_certificate(client, platform_admin, sim_server):
    sim_server.is_active = False
    sim_server.save()
    [message] = run_server_action(client, platform_admin, sim_server, "show_certificate")
    assert "is disabled" in message


def test_a_server_saved_in_the_admin_is_checked_at_once(
    client, platform_admin, tenant_a, pve, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    client.force_login(platform_admin)
    settings_of_pve = pve.connection_settings()
    form = server_form(
        tenant_a, **{name: settings_of_pve[name] for name in ("host", "port", "token_id", "token_secret")}
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:servers_proxmoxserver_add"), {**form, "fingerprint": settings_of_pve["fingerprint"]})
    assert ProxmoxServer.objects.get(name="pve-new").connection_status == "online"


def test_the_admin_refuses_a_token_secret_proxmox_could_never_accept(client, platform_admin, tenant_a):
    client.force_login(platform_admin)
    response = client.post(reverse("admin:servers_proxmoxserver_add"), server_form(tenant_a, token_secret="a b"))
    assert "spaces or line breaks" in response.content.decode()
    assert not ProxmoxServer.objects.exists()
