"""A web process takes on only as many consoles as it can open in time; the next is refused with a reason the page
shows (and retries after), never dropped without a word."""

import asgiref.sync
import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.db import connections

from console import consumers
from console.admission import Admission
from console.models import ConsoleSession
from console.relay import CloseReason
from tests.console.sockets import Browser, closed_with, open_console_socket, session_once, ticket_for


def test_a_place_is_given_while_there_is_room_and_given_back_once():
    admission = Admission(opening_limit=2, capacity=3)
    first, second = admission.admit(), admission.admit()
    assert admission.admit() is None, "two are opening: the limit"
    first.opened()
    third = admission.admit()
    assert third is not None
    assert admission.admit() is None, "three in all: the capacity"
    first.release()
    first.release()
    assert (admission.opening, admission.open) == (2, 2)
    second.release()
    third.release()
    assert (admission.opening, admission.open) == (0, 0)


@pytest.fixture
def full_process(settings):
    """This process takes no more consoles (as if a burst had filled it)."""
    settings.CONSOLE_OPENING_LIMIT = 0
    consumers.admission.cache_clear()
    yield
    consumers.admission.cache_clear()


@pytest.fixture
def close_connections_of_the_sync_thread():
    yield
    asgiref.sync.async_to_sync(asgiref.sync.sync_to_async(connections.close_all))()


@pytest.mark.django_db(transaction=True)
async def test_a_console_beyond_what_the_process_takes_on_is_refused_as_busy(
    full_process, manager_a, sim_server, close_connections_of_the_sync_thread
):
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    communicator, connected, _ = await open_console_socket(manager_a, ticket.token)
    assert connected, "accepted, so that the page learns why it is closed"
    assert await closed_with(communicator) == CloseReason.BUSY.code
    assert not CloseReason.BUSY.final, "the page tries again after a while"
    session = await ConsoleSession.objects.aget(pk=ticket.session.pk)
    assert session.opened_at is None, "its token was not used: the page asks for a fresh one anyway"


@pytest.mark.django_db(transaction=True)
async def test_a_console_that_ended_gives_its_place_back(manager_a, sim_server, close_connections_of_the_sync_thread):
    consumers.admission.cache_clear()
    ticket = await sync_to_async(ticket_for)(manager_a, sim_server)
    communicator, _, _ = await open_console_socket(manager_a, ticket.token)
    await Browser(communicator).handshake()
    assert (consumers.admission().opening, consumers.admission().open) == (0, 1)
    await communicator.disconnect()
    await session_once(ticket, lambda session: session.closed_at, "closed")
    assert consumers.admission().open == 0
