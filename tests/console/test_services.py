"""Console tokens: only their hash is stored, and the claim decides again whether the console may open."""

import hashlib

from console.models import ConsoleSession
from console.services import console_session_claim, console_session_request


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
