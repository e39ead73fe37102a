"""Taking access away ends the open consoles it gave, at once, with their reason: against a running relay (the whole
ASGI stack, the consumer and the simulator), not a mock."""

import asgiref.sync
import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.db import connections
from django.test import Client
from django.urls import reverse
from guardian.shortcuts import assign_perm, remove_perm

from audit.models import AuditEvent
from console.relay import CloseReason
from tenants import roles
from tenants.models import Membership
from tests.conftest import PASSWORD, make_user
from tests.console.sockets import Browser, closed_session, closed_with, open_console_socket, session_of, ticket_for
from vms.services import guest_grant_revoke, guest_grant_set

pytestmark = pytest.mark.django_db(transaction=True)

WITHDRAWN = CloseReason.WITHDRAWN.code


@pytest.fixture(autouse=True)
async def close_connections_of_the_sync_thread():
    yield
    await asgiref.sync.sync_to_async(connections.close_all)()


async def open_console(user, server, cookie=None):
    """An open, relaying console of `user`: its ticket and its socket."""
    ticket = await sync_to_async(ticket_for)(user, server)
    communicator, connected, _ = await open_console_socket(user, ticket.token, cookie=cookie)
    assert connected
    await Browser(communicator).handshake()
    return ticket, communicator


async def assert_withdrawn(ticket, communicator):
    assert await closed_with(communicator) == WITHDRAWN
    assert (await closed_session(ticket)).close_reason == "withdrawn"


async def assert_still_open(ticket, communicator):
    assert await communicator.receive_nothing(timeout=0.3)
    assert (await session_of(ticket)).is_open
    await communicator.disconnect()
    await closed_session(ticket)


async def test_removing_a_member_ends_their_console_and_nobody_elses(manager_a, admin_a, sim_server):
    ticket, communicator = await open_console(manager_a, sim_server)
    others_ticket, others = await open_console(admin_a, sim_server)
    await Membership.objects.filter(user=manager_a).adelete()
    await assert_withdrawn(ticket, communicator)
    await assert_still_open(others_ticket, others)
    event = await AuditEvent.objects.aget(action="console withdrawn")
    assert event.details["user"] == "manager-a" and event.tenant_id == sim_server.tenant_id


async def test_lowering_a_role_below_the_console_ends_it(manager_a, sim_server):
    ticket, communicator = await open_console(manager_a, sim_server)
    await Membership.objects.filter(user=manager_a).aupdate(role=roles.Role.ADMIN)  # a bulk update: no signal
    membership = await Membership.objects.aget(user=manager_a)
    membership.role = roles.Role.VIEWER
    await membership.asave()
    await assert_withdrawn(ticket, communicator)


async def test_raising_a_role_keeps_the_console(manager_a, sim_server):
    ticket, communicator = await open_console(manager_a, sim_server)
    membership = await Membership.objects.aget(user=manager_a)
    membership.role = roles.Role.ADMIN
    await membership.asave()
    await assert_still_open(ticket, communicator)


async def test_taking_back_a_grant_ends_the_grantees_console(sim_server):
    grantee = await sync_to_async(make_user)("customer")
    await sync_to_async(assign_perm)(roles.OPEN_CONSOLE, grantee, sim_server)
    ticket, communicator = await open_console(grantee, sim_server)
    await sync_to_async(remove_perm)(roles.OPEN_CONSOLE, grantee, sim_server)
    await assert_withdrawn(ticket, communicator)


@pytest.mark.parametrize("take_back", ["revoke", "console off"])
async def test_taking_back_a_guests_grant_ends_that_console(sim_server, take_back):
    customer = await sync_to_async(make_user)("customer")
    grant = await sync_to_async(guest_grant_set)(user=customer, server=sim_server, vmid=100, console=True)
    ticket, communicator = await open_console(customer, sim_server)
    if take_back == "revoke":
        await sync_to_async(guest_grant_revoke)(grant=grant)
    else:
        await sync_to_async(guest_grant_set)(user=customer, server=sim_server, vmid=100, power=True)
    await assert_withdrawn(ticket, communicator)


async def test_taking_back_a_guests_grant_on_the_members_page_ends_that_console(sim_server, admin_a):
    from tenants import grants, services

    customer = await sync_to_async(make_user)("customer")
    await sync_to_async(guest_grant_set)(user=customer, server=sim_server, vmid=100, console=True)
    ticket, communicator = await open_console(customer, sim_server)
    [grant] = await sync_to_async(grants.grants_of)(sim_server.tenant)
    await sync_to_async(services.grant_revoke)(grant=grant, actor=admin_a)
    await assert_withdrawn(ticket, communicator)


async def test_a_group_the_identity_provider_no_longer_names_ends_that_membership_and_its_console(sim_server):
    from accounts.models import GroupMapping, OidcProvider
    from accounts.services import sso_memberships_sync

    def provider_with_mapping():
        provider = OidcProvider(name="Acme SSO", slug="acme-sso", issuer="http://127.0.0.1:9", client_id="nexus")
        provider.client_secret = "secret"
        provider.save()
        GroupMapping.objects.create(provider=provider, group="it", tenant=sim_server.tenant, role=roles.Role.MANAGER)
        return provider

    provider = await sync_to_async(provider_with_mapping)()
    frank = await sync_to_async(make_user)("frank")
    await sync_to_async(sso_memberships_sync)(provider=provider, user=frank, groups=["it"], client_ip=None)
    ticket, communicator = await open_console(frank, sim_server)
    await sync_to_async(sso_memberships_sync)(provider=provider, user=frank, groups=["sales"], client_ip=None)
    await assert_withdrawn(ticket, communicator)


async def test_deleting_the_user_ends_their_console(manager_a, sim_server):
    _, communicator = await open_console(manager_a, sim_server)
    await manager_a.adelete()
    assert await closed_with(communicator) == WITHDRAWN


@pytest.mark.parametrize(
    "owner, switch",
    [
        ("manager_a", "is_active"),  # the user deactivated
        ("tenant_a", "is_active"),  # the tenant deactivated
        ("tenant_a", "console_enabled"),  # the tenant's consoles turned off
        ("sim_server", "is_active"),  # the server deactivated
    ],
)
async def test_switching_off_a_user_tenant_server_or_consoles_ends_the_console(
    request, manager_a, sim_server, owner, switch
):
    ticket, communicator = await open_console(manager_a, sim_server)
    obj = await sync_to_async(request.getfixturevalue)(owner)
    setattr(obj, switch, False)
    await obj.asave()
    await assert_withdrawn(ticket, communicator)


def _logged_in_client(user) -> tuple[Client, bytes]:
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}".encode()


async def test_logging_out_ends_the_consoles_of_that_login_only(manager_a, sim_server):
    laptop, laptop_cookie = await sync_to_async(_logged_in_client)(manager_a)
    _, phone_cookie = await sync_to_async(_logged_in_client)(manager_a)
    ticket, communicator = await open_console(manager_a, sim_server, cookie=laptop_cookie)
    phone_ticket, phone = await open_console(manager_a, sim_server, cookie=phone_cookie)
    await sync_to_async(laptop.post)(reverse("logout"))
    await assert_withdrawn(ticket, communicator)
    await assert_still_open(phone_ticket, phone)


NEW_PASSWORD = "a brand new passphrase 42"


async def test_changing_the_password_ends_the_consoles_of_the_other_logins(manager_a, sim_server):
    laptop, laptop_cookie = await sync_to_async(_logged_in_client)(manager_a)
    _, phone_cookie = await sync_to_async(_logged_in_client)(manager_a)
    ticket, communicator = await open_console(manager_a, sim_server, cookie=laptop_cookie)
    phone_ticket, phone = await open_console(manager_a, sim_server, cookie=phone_cookie)
    change = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert (await sync_to_async(laptop.post)(reverse("accounts:password-change"), change)).status_code == 302
    await assert_withdrawn(phone_ticket, phone)
    assert await communicator.receive_nothing(timeout=0.3)
    # The login that changed it got a new session key; logging out of it still ends its console.
    await sync_to_async(laptop.post)(reverse("logout"))
    await assert_withdrawn(ticket, communicator)


async def test_a_password_reset_ends_every_console_of_the_user(manager_a, sim_server):
    from accounts.services import password_change_done

    ticket, communicator = await open_console(manager_a, sim_server)
    await sync_to_async(password_change_done)(user=manager_a, client_ip=None)
    await assert_withdrawn(ticket, communicator)


async def test_a_password_set_in_the_django_admin_ends_the_accounts_consoles(manager_a, platform_admin, sim_server):
    ticket, communicator = await open_console(manager_a, sim_server)
    operator, _ = await sync_to_async(_logged_in_client)(platform_admin)
    url = reverse("admin:auth_user_password_change", args=[manager_a.pk])
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    assert (await sync_to_async(operator.post)(url, form)).status_code == 302
    await assert_withdrawn(ticket, communicator)
