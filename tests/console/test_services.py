"""Console tokens: only their hash is stored, and the claim decides again whether the console may open; the
tenant's live pages hear of consoles opened and ended."""

import hashlib

import pytest

from console import services
from console.models import ConsoleSession
from console.relay import CloseReason
from console.services import console_session_claim, console_session_close, console_session_request
from nexus.errors import ApplicationError
from vms.services import guest_grant_revoke, guest_grant_set


def test_the_token_itself_is_never_stored(manager_a, sim_server):
    ticket = console_session_request(user=manager_a, server=sim_server, vmid=100, client_ip=None)
    row = ConsoleSession.objects.filter(pk=ticket.session.pk).values().get()
    assert ticket.token not in str(row)
    assert row["token_hash"] == hashlib.sha256(ticket.token.encode()).hexdigest()


def test_a_token_issued_before_consoles_were_turned_off_opens_nothing(manager_a, sim_server, tenant_a):
    ticket = console_session_request(user=manager_a, server=sim_server, vmid=100, client_ip=None)
    tenant_a.console_enabled = False
    tenant_a.save()
    assert console_session_claim(token=ticket.token, user=manager_a, channel_name="x", client_ip=None) is None
    assert ConsoleSession.objects.get(pk=ticket.session.pk).close_reason == "forbidden"


def test_a_single_guest_grant_opens_that_guests_console_only(outsider, sim_server):
    grant = guest_grant_set(user=outsider, server=sim_server, vmid=100, console=True)
    ticket = console_session_request(user=outsider, server=sim_server, vmid=100, client_ip=None)
    with pytest.raises(ApplicationError) as refused:
        console_session_request(user=outsider, server=sim_server, vmid=101, client_ip=None)
    assert refused.value.status == 403
    # Taken back before the token was used: the claim asks again.
    guest_grant_revoke(grant=grant)
    assert console_session_claim(token=ticket.token, user=outsider, channel_name="x", client_ip=None) is None


def test_a_guest_grant_without_console_opens_no_console(outsider, sim_server):
    guest_grant_set(user=outsider, server=sim_server, vmid=100, power=True)
    with pytest.raises(ApplicationError):
        console_session_request(user=outsider, server=sim_server, vmid=100, client_ip=None)


def test_the_tenant_hears_once_that_a_console_opened_and_ended(manager_a, sim_server, monkeypatch):
    heard = []
    monkeypatch.setattr(services, "tenant_event_publish", lambda **event: heard.append(event))
    ticket = console_session_request(user=manager_a, server=sim_server, vmid=100, client_ip=None)
    session = console_session_claim(token=ticket.token, user=manager_a, channel_name="x", client_ip=None)
    console_session_close(session=session, reason=CloseReason.CLIENT_CLOSED)
    console_session_close(session=session, reason=CloseReason.ERROR, bytes_to_client=10)  # the end stands
    where = {"id": session.pk, "server": sim_server.pk, "vmid": 100}
    assert [(event["kind"], event["data"]) for event in heard] == [
        ("console.opened", where),
        ("console.ended", {**where, "reason": "client_closed"}),
    ]
    assert {event["tenant_id"] for event in heard} == {sim_server.tenant_id}
