"""Console tokens: only their hash is stored, and the claim decides again whether the console may open; a deleted
server's consoles end."""

import hashlib

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from console.models import ConsoleSession
from console.services import TERMINATE_MESSAGE, _terminate, console_session_claim, console_session_request
from servers.services import server_delete
from tests.conftest import make_console_session


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


def test_deleting_a_server_ends_its_open_consoles_once_the_deletion_commits(
    manager_a, sim_server, server_a, monkeypatch, django_capture_on_commit_callbacks
):
    ended = []
    monkeypatch.setattr("console.services._terminate", ended.extend)
    now = timezone.now()
    make_console_session(manager_a, sim_server, opened_at=now, channel_name="relay.open")
    make_console_session(manager_a, sim_server, opened_at=now, closed_at=now, channel_name="relay.closed")
    make_console_session(manager_a, server_a, opened_at=now, channel_name="relay.other-server")
    with django_capture_on_commit_callbacks(execute=False) as pending:
        server_delete(server=sim_server, actor=manager_a)
    assert ended == []  # not before the deletion is final
    for callback in pending:
        callback()
    assert ended == ["relay.open"]
    assert list(ConsoleSession.objects.values_list("channel_name", flat=True)) == ["relay.other-server"]


def test_an_ended_console_hears_the_terminate_message():
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    _terminate([channel])
    assert async_to_sync(layer.receive)(channel) == {"type": TERMINATE_MESSAGE}
