"""Tenant events: what a tenant's pages show as it happens (a server's status, a guest's state, a task's progress,
a console opened or ended), sent to the tenant's channel-layer group for the events WebSocket to pass on.

Publish with `tenant_event_publish(tenant_id=..., kind=..., data=...)`: it is sent once the current transaction
commits, so nobody hears of a change that was rolled back. Events carry no secrets, and only members of the
tenant receive them. A lost live update never fails the action that caused it: pages catch up when they
reconnect.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# The channel-layer message type a consumer of the group handles (`tenant_event`).
MESSAGE_TYPE = "tenant.event"


def tenant_group(tenant_id: int) -> str:
    return f"tenant-{tenant_id}"


def tenant_event_publish(*, tenant_id: int, kind: str, data: dict) -> None:
    message = {"type": MESSAGE_TYPE, "kind": kind, "data": data}
    transaction.on_commit(lambda: _send(tenant_group(tenant_id), message))


def _send(group: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception as error:  # the channel layer (Redis) may be down; the action stands
        logger.warning("tenant event %s to %s not sent: %s", message["kind"], group, error)
