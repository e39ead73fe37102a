"""Tenant events: what a tenant's pages show as it happens (a server's status, a guest's state, a task's progress,
a console opened or ended), sent to the tenant's channel-layer group for the events WebSocket to pass on.

Publish with `tenant_event_publish(tenant_id=..., kind=..., data=...)`: it is sent once the current transaction
commits, so nobody hears of a change that was rolled back. Events carry no secrets, and only those who reach the
tenant receive them (the stream filters each event by what its user may see: `data["server"]`, or `data["id"]` of a
`server.*` event, and `data["vmid"]`). A lost live update never fails the action that caused it: pages catch up
when they reconnect.

`tenant_access_changed(user_id=... | tenant_id=...)` tells the streams of one user, or of everyone in a tenant,
to check their access again at once (a membership or grant changed, a user or tenant was deactivated).
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# The channel-layer message type a consumer of the group handles (`tenant_event`).
MESSAGE_TYPE = "tenant.event"
# The message that makes a stream check its user's access again (`tenant_access`).
ACCESS_MESSAGE_TYPE = "tenant.access"


def tenant_group(tenant_id: int) -> str:
    return f"tenant-{tenant_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def tenant_event_publish(*, tenant_id: int, kind: str, data: dict) -> None:
    message = {"type": MESSAGE_TYPE, "kind": kind, "data": data}
    transaction.on_commit(lambda: _send(tenant_group(tenant_id), message))


def tenant_access_changed(*, user_id: int | None = None, tenant_id: int | None = None, ended_login: str = "") -> None:
    """`ended_login`: a digest of the login session that ended (a logout), whose streams close whatever else holds."""
    group = user_group(user_id) if user_id is not None else tenant_group(tenant_id)
    message = {"type": ACCESS_MESSAGE_TYPE, "kind": "access", "ended_login": ended_login}
    transaction.on_commit(lambda: _send(group, message))


def _send(group: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception as error:  # the channel layer (Redis) may be down; the action stands
        logger.warning("tenant event %s to %s not sent: %s", message["kind"], group, error)
