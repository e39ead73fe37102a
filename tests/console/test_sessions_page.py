"""The console sessions page: tenant admins see their tenants' sessions and end the open ones."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from console.services import TERMINATE_MESSAGE
from tests.conftest import make_console_session

PAGE = "/console/sessions/"


def open_session(user, server, **fields):
    return make_console_session(user, server, opened_at=timezone.now(), **fields)


def terminate_url(session):
    return reverse("console:session-terminate", args=[session.pk])


def test_an_admin_sees_the_open_sessions_of_their_tenant_only(client, admin_a, admin_b, server_a, server_b):
    own = open_session(admin_a, server_a, guest_name="web-a", client_ip="192.0.2.10")
    other = open_session(admin_b, server_b, guest_name="web-b")
    client.force_login(admin_a)
    html = client.get(reverse("console:sessions")).content.decode()
    assert "web-a (100)" in html and "192.0.2.10" in html and "pve-a" in html
    assert terminate_url(own) in html
    assert "web-b" not in html and "pve-b" not in html and terminate_url(other) not in html


def test_it_lists_open_sessions_before_closed_ones_and_says_why_those_ended(client, admin_a, server_a):
    make_console_session(
        admin_a,
        server_a,
        guest_name="closed-guest",
        opened_at=timezone.now(),
        closed_at=timezone.now(),
        close_reason="idle_timeout",
        bytes_to_client=3 * 1024 * 1024,
        bytes_to_server=2048,
    )
    open_session(admin_a, server_a, guest_name="open-guest")
    client.force_login(admin_a)
    html = client.get(PAGE).content.decode()
    assert html.index("open-guest") < html.index("closed-guest")
    assert "closed after a period without input" in html
    assert "3.0\xa0MB" in html and "2.0\xa0KB" in html


def test_it_leaves_out_tokens_that_were_never_used(client, admin_a, server_a):
    make_console_session(admin_a, server_a, guest_name="unclaimed")
    client.force_login(admin_a)
    assert "unclaimed" not in client.get(PAGE).content.decode()


@pytest.mark.parametrize("user", ["viewer_a", "manager_a", "outsider"])
def test_users_who_administer_no_tenant_see_the_empty_state(client, request, server_a, admin_a, user):
    open_session(admin_a, server_a, guest_name="web-a")
    client.force_login(request.getfixturevalue(user))
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "You do not administer any tenant" in html
    assert "web-a" not in html


def test_the_tenant_filter_keeps_one_tenant(client, platform_admin, admin_a, admin_b, server_a, server_b):
    open_session(admin_a, server_a, guest_name="web-a")
    open_session(admin_b, server_b, guest_name="web-b")
    client.force_login(platform_admin)
    html = client.get(PAGE).content.decode()
    assert "web-a" in html and "web-b" in html
    assert '<select id="tenant"' in html
    html = client.get(PAGE, {"tenant": "tenant-b"}).content.decode()
    assert "web-a" not in html and "web-b" in html


def test_the_tenant_filter_is_hidden_with_a_single_tenant(client, admin_a, tenant_b):
    client.force_login(admin_a)
    assert '<select id="tenant"' not in client.get(PAGE).content.decode()


def test_ending_a_session_tells_its_consumer_and_records_who_ended_it(client, admin_a, manager_a, server_a):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    session = open_session(manager_a, server_a, guest_name="web-a", channel_name=channel)
    client.force_login(admin_a)

    response = client.post(terminate_url(session), {"tenant": "tenant-a"})

    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}?tenant=tenant-a"
    assert async_to_sync(layer.receive)(channel) == {"type": TERMINATE_MESSAGE, "reason": "TERMINATED"}
    event = AuditEvent.objects.get(action="console terminated")
    assert event.actor == admin_a and event.tenant == server_a.tenant and event.ip_address == "127.0.0.1"
    assert event.details == {"session": session.pk, "user": "manager-a"}
    assert "Ended manager-a&#x27;s console of web-a." in client.get(response["Location"]).content.decode()


def test_ending_a_session_that_already_ended_says_so(client, admin_a, server_a):
    session = make_console_session(admin_a, server_a, opened_at=timezone.now(), closed_at=timezone.now())
    client.force_login(admin_a)
    response = client.post(terminate_url(session), follow=True)
    assert "already ended" in response.content.decode()
    assert not AuditEvent.objects.filter(action="console terminated").exists()


def test_ending_another_tenants_session_is_404_and_changes_nothing(client, admin_a, admin_b, server_b):
    session = open_session(admin_b, server_b)
    client.force_login(admin_a)
    assert client.post(terminate_url(session)).status_code == 404
    session.refresh_from_db()
    assert session.closed_at is None
    assert not AuditEvent.objects.filter(action="console terminated").exists()


def test_ending_a_session_requires_post(client, admin_a, server_a):
    session = open_session(admin_a, server_a)
    client.force_login(admin_a)
    assert client.get(terminate_url(session)).status_code == 405
    session.refresh_from_db()
    assert session.closed_at is None


@pytest.mark.parametrize("user, shown", [("admin_a", True), ("platform_admin", True), ("viewer_a", False)])
def test_the_top_bar_links_to_the_page_for_those_who_may_use_it(client, request, tenant_a, user, shown):
    client.force_login(request.getfixturevalue(user))
    html = client.get(reverse("portal:home"), follow=True).content.decode()  # platform admins: the Platform page
    assert (f'href="{PAGE}"' in html) is shown


def test_the_page_follows_the_consoles_of_the_tenants_it_shows(client, admin_a, admin_b, tenant_a, tenant_b):
    admin_a.memberships.create(tenant=tenant_b, role="admin")
    client.force_login(admin_a)
    html = client.get(reverse("console:sessions")).content.decode()
    assert 'data-live-stream="/ws/tenants/tenant-a/events/"' in html
    assert 'data-live-stream="/ws/tenants/tenant-b/events/"' in html
    assert 'data-live-on="console."' in html
    html = client.get(reverse("console:sessions"), {"tenant": "tenant-b"}).content.decode()
    assert "/ws/tenants/tenant-a/" not in html and "/ws/tenants/tenant-b/events/" in html
