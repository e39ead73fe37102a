"""Tenant events reach the tenant's group after the commit, and never fail the action that sent them."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from tenants.events import MESSAGE_TYPE, tenant_event_publish, tenant_group


def listen(tenant_id):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(tenant_group(tenant_id), channel)
    return layer, channel


def receive(layer, channel):
    return async_to_sync(layer.receive)(channel)


@pytest.mark.django_db(transaction=True)
def test_an_event_is_sent_once_the_transaction_commits(tenant_a):
    layer, channel = listen(tenant_a.pk)
    with transaction.atomic():
        tenant_event_publish(tenant_id=tenant_a.pk, kind="server.status", data={"server": 1, "status": "online"})
    assert receive(layer, channel) == {
        "type": MESSAGE_TYPE,
        "kind": "server.status",
        "data": {"server": 1, "status": "online"},
    }


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_is_never_told(tenant_a):
    layer, channel = listen(tenant_a.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        tenant_event_publish(tenant_id=tenant_a.pk, kind="rolled back", data={})
        raise RuntimeError
    tenant_event_publish(tenant_id=tenant_a.pk, kind="committed", data={})  # no transaction: sent at once
    assert receive(layer, channel)["kind"] == "committed"


@pytest.mark.django_db(transaction=True)
def test_a_channel_layer_that_fails_does_not_fail_the_action(tenant_a, monkeypatch, caplog):
    class Broken:
        async def group_send(self, group, message):
            raise ConnectionError("Redis is down")

    monkeypatch.setattr("tenants.events.get_channel_layer", Broken)
    tenant_event_publish(tenant_id=tenant_a.pk, kind="server.status", data={})
    assert "not sent: Redis is down" in caplog.text
