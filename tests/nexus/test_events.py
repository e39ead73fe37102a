"""The tenant's live events stream through the whole ASGI stack: who gets in, what each one hears, and that taking
access away ends it."""

import asgiref.sync
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async as sync_to_async
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from nexus.events import ACCESS_GONE, Audience, tenant_events_audience
from tenants import roles
from tenants.events import tenant_event_publish
from tenants.models import Membership
from tests.conftest import make_server, make_user
from tests.console.sockets import closed_with, open_socket
from vms.services import guest_grant_set

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def close_connections_of_the_sync_thread():
    yield
    await asgiref.sync.sync_to_async(connections.close_all)()


def path(tenant) -> str:
    return f"/ws/tenants/{tenant.slug}/events/"


async def listen(user, tenant):
    communicator, connected, _ = await open_socket(user, path(tenant))
    assert connected
    return communicator


async def listen_with(client, tenant):
    """The stream of the login session `client` holds."""
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator, connected, _ = await open_socket(None, path(tenant), cookie=cookie)
    assert connected
    return communicator


async def publish(tenant, kind, **data):
    await sync_to_async(tenant_event_publish)(tenant_id=tenant.pk, kind=kind, data=data)


async def heard(communicator) -> list[tuple[str, dict]]:
    """Every event that arrived by now (none pending)."""
    events = []
    while not await communicator.receive_nothing(timeout=0.2):
        event = await communicator.receive_json_from()
        events.append((event["kind"], event["data"]))
    return events


async def test_a_member_hears_their_tenants_events_and_another_tenants_member_never_does(
    viewer_a, admin_b, server_a, server_b
):
    member = await listen(viewer_a, server_a.tenant)
    other = await listen(admin_b, server_b.tenant)
    await publish(server_a.tenant, "server.status", server=server_a.pk, status="offline")
    await publish(server_b.tenant, "server.status", server=server_b.pk, status="online")
    assert await heard(member) == [("server.status", {"server": server_a.pk, "status": "offline"})]
    assert await heard(other) == [("server.status", {"server": server_b.pk, "status": "online"})]
    await member.disconnect()
    await other.disconnect()


async def test_who_does_not_reach_the_tenant_is_refused_as_for_no_tenant(outsider, admin_b, tenant_a):
    for user in (None, outsider, admin_b):
        _, connected, _ = await open_socket(user, path(tenant_a))
        assert not connected
        _, connected, _ = await open_socket(user, "/ws/tenants/no-such-tenant/events/")
        assert not connected


async def test_a_page_of_another_origin_is_refused(viewer_a, tenant_a):
    _, connected, _ = await open_socket(viewer_a, path(tenant_a), origin=b"https://evil.example")
    assert not connected


async def test_a_single_server_grantee_hears_of_that_server_only(tenant_a, server_a):
    other_server = await sync_to_async(make_server)(tenant_a, "pve-a2")
    customer = await sync_to_async(make_user)("customer")
    await sync_to_async(assign_perm)(roles.OPEN_CONSOLE, customer, server_a)
    stream = await listen(customer, tenant_a)
    await publish(tenant_a, "guest.state", server=other_server.pk, vmid=100, status="stopped")
    await publish(tenant_a, "server.changed", id=other_server.pk, name="pve-a2")
    await publish(tenant_a, "guest.state", server=server_a.pk, vmid=100, status="stopped")
    await publish(tenant_a, "server.health", server=server_a.pk, success=False, error="pve.example.com refused")
    assert await heard(stream) == [
        ("guest.state", {"server": server_a.pk, "vmid": 100, "status": "stopped"}),
        ("server.health", {"server": server_a.pk, "success": False}),  # the error names the address
    ]
    await stream.disconnect()


async def test_who_holds_one_guest_hears_of_it_and_of_its_servers_status_only(tenant_a, server_a):
    customer = await sync_to_async(make_user)("customer")
    await sync_to_async(guest_grant_set)(user=customer, server=server_a, vmid=100, console=True)
    stream = await listen(customer, tenant_a)
    await publish(tenant_a, "guest.state", server=server_a.pk, vmid=101, status="stopped")
    await publish(tenant_a, "console.opened", id=1, server=server_a.pk, vmid=101)
    await publish(tenant_a, "server.health", server=server_a.pk, success=True, avg_ms=12)
    await publish(tenant_a, "task.done", server=server_a.pk, vmid=100, exitstatus="OK")
    await publish(tenant_a, "server.status", server=server_a.pk, status="online")
    assert [kind for kind, _ in await heard(stream)] == ["task.done", "server.status"]
    await stream.disconnect()


async def test_removing_a_member_ends_their_stream_and_nobody_elses(viewer_a, admin_a, tenant_a):
    stream = await listen(viewer_a, tenant_a)
    others = await listen(admin_a, tenant_a)
    await Membership.objects.filter(user=viewer_a).adelete()
    assert await closed_with(stream) == ACCESS_GONE
    assert await others.receive_nothing(timeout=0.3)
    await others.disconnect()


async def test_a_deactivated_user_loses_the_stream(viewer_a, tenant_a):
    stream = await listen(viewer_a, tenant_a)
    viewer_a.is_active = False
    await viewer_a.asave()
    assert await closed_with(stream) == ACCESS_GONE


async def test_logging_out_ends_the_stream_of_that_login_only(viewer_a, tenant_a):
    browser, other_browser = Client(), Client()
    await sync_to_async(browser.force_login)(viewer_a)
    await sync_to_async(other_browser.force_login)(viewer_a)
    stream = await listen_with(browser, tenant_a)
    other = await listen_with(other_browser, tenant_a)
    await sync_to_async(browser.logout)()
    assert await closed_with(stream) == ACCESS_GONE
    assert await other.receive_nothing(timeout=0.3)
    await other.disconnect()


async def test_a_lowered_role_keeps_the_stream_with_what_the_new_role_sees(manager_a, tenant_a, server_a):
    stream = await listen(manager_a, tenant_a)
    membership = await Membership.objects.aget(user=manager_a)
    membership.role = roles.Role.VIEWER
    await membership.asave()
    await publish(tenant_a, "server.health", server=server_a.pk, success=False, error="refused")
    assert await heard(stream) == [("server.health", {"server": server_a.pk, "success": False})]
    await stream.disconnect()


async def test_an_event_arrives_once_its_change_is_committed_and_never_when_rolled_back(viewer_a, tenant_a, server_a):
    stream = await listen(viewer_a, tenant_a)

    def roll_back_then_commit():
        with pytest.raises(RuntimeError), transaction.atomic():
            tenant_event_publish(tenant_id=tenant_a.pk, kind="server.status", data={"server": server_a.pk})
            raise RuntimeError
        with transaction.atomic():
            tenant_event_publish(tenant_id=tenant_a.pk, kind="server.changed", data={"id": server_a.pk})
            assert async_to_sync(stream.receive_nothing)(timeout=0.3), "told before the commit"

    await sync_to_async(roll_back_then_commit)()
    assert await heard(stream) == [("server.changed", {"id": server_a.pk})]
    await stream.disconnect()


def test_a_tenant_wide_event_is_for_those_who_see_its_servers(viewer_a, tenant_a, server_a):
    customer = make_user("customer")
    assign_perm(roles.VIEW_SERVER, customer, server_a)
    member = tenant_events_audience(user=viewer_a, slug=tenant_a.slug)
    grantee = tenant_events_audience(user=customer, slug=tenant_a.slug)
    assert isinstance(member, Audience) and member.view("tenant.stats", {"servers": 3}) == {"servers": 3}
    assert grantee.view("tenant.stats", {"servers": 3}) is None
    assert grantee.view("server.changed", {"id": server_a.pk}) == {"id": server_a.pk}


def test_what_a_user_hears_is_worked_out_in_as_many_queries_for_many_servers_as_for_one(tenant_a, server_a):
    customer = make_user("customer")
    assign_perm(roles.VIEW_SERVER, customer, server_a)
    guest_grant_set(user=customer, server=server_a, vmid=100, console=True)
    tenant_events_audience(user=customer, slug=tenant_a.slug)  # content types cached
    with CaptureQueriesContext(connection) as one:
        tenant_events_audience(user=customer, slug=tenant_a.slug)
    for n in range(5):
        server = make_server(tenant_a, f"pve-{n}")
        assign_perm(roles.OPEN_CONSOLE, customer, server)
        guest_grant_set(user=customer, server=server, vmid=100)
    with CaptureQueriesContext(connection) as many:
        audience = tenant_events_audience(user=customer, slug=tenant_a.slug)
    assert len(audience.servers) == 6 and len(many) == len(one)
