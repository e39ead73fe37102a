"""A tenant's live events over a WebSocket, `/ws/tenants/<slug>/events/`: what tenants.events publishes, passed on
to each user as far as they may see it. It sits here because events concern every app (servers, guests, consoles).

- Who: those who reach the tenant through tenants.access (its members, and who holds one of its servers or guests
  alone). Anyone else is closed before the handshake, as a page answers 404.
- What: an event about a server (`data["server"]`, or `data["id"]` of a `server.*` event) goes to those who see the
  server; an event about a guest (`data["vmid"]`) also to who holds that guest alone; a server's status to all who
  reach the server. A health `error` only to those who may change the server (it may name how it is reached). What
  each user sees is worked out at connect and at every re-check, so an event costs a few dictionary lookups.
- How long: access is checked again when it may have changed (the receivers below, through
  tenants.events.tenant_access_changed) and every RECHECK_SECONDS anyway (a session that expired); once it is gone
  the stream closes with ACCESS_GONE, which the page takes as final.
"""

import asyncio
import hashlib
from dataclasses import dataclass, field

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.urls import re_path
from guardian.models import UserObjectPermission

from tenants import access, roles
from tenants.events import tenant_access_changed, tenant_group, user_group
from tenants.models import Membership, Tenant
from tenants.selectors import tenants_reachable
from vms.models import GuestGrant
from vms.selectors import server_scopes_in_tenant

RECHECK_SECONDS = 60
ACCESS_GONE = 4403  # the close code that tells the page not to reconnect
# Events about a server that who reaches it only through single guests may see too (the home page shows them the
# server's name and status).
REACHABLE_KINDS = frozenset({"server.status"})
# Fields of an event only those who may change the server see.
PRIVATE_FIELDS = ("error",)


@dataclass(frozen=True)
class Audience:
    """What one user may see of one tenant's events: their permissions in the tenant, and on each server they
    reach (whole, or by single guests)."""

    tenant_id: int
    tenant_perms: frozenset[str]
    servers: dict[int, access.Scope] = field(default_factory=dict)

    def view(self, kind: str, data: dict) -> dict | None:
        """The event's data as this user may see it, or None when it is not for them."""
        server_id = data.get("server", data.get("id") if kind.startswith("server.") else None)
        if server_id is None:
            return data if roles.VIEW_SERVER in self.tenant_perms else None
        scope = self.servers.get(server_id)
        perms = self.tenant_perms | (scope.whole if scope else frozenset())
        reaches = scope is not None and (kind in REACHABLE_KINDS or scope.sees(data.get("vmid")))
        if roles.VIEW_SERVER not in perms and not reaches:
            return None
        if roles.CHANGE_SERVER not in perms and any(name in data for name in PRIVATE_FIELDS):
            return {name: value for name, value in data.items() if name not in PRIVATE_FIELDS}
        return data


def tenant_events_audience(*, user, **tenant) -> Audience | None:
    """The Audience of the tenant `tenant` names (slug= or pk=) for the user; None when they do not reach it."""
    found = tenants_reachable(user).filter(**tenant).first()
    if found is None:
        return None
    return Audience(found.pk, access.permissions(user, found), server_scopes_in_tenant(user, found))


def login_digest(session_key: str | None) -> str:
    """What the channel layer carries of a login session (never its key)."""
    return hashlib.sha256(session_key.encode()).hexdigest() if session_key else ""


class TenantEventsConsumer(AsyncJsonWebsocketConsumer):
    audience: Audience | None = None
    recheck_task = None
    joined: tuple[str, ...] = ()

    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        self.audience = await database_sync_to_async(tenant_events_audience)(user=self.scope["user"], slug=slug)
        if self.audience is None:
            await self.close()  # before accept: refused, as for a tenant that does not exist
            return
        self.joined = (tenant_group(self.audience.tenant_id), user_group(self.scope["user"].pk))
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.recheck_task = asyncio.create_task(self._recheck_every_while())

    async def disconnect(self, code):
        if self.recheck_task is not None:
            self.recheck_task.cancel()
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # the page only listens

    async def tenant_event(self, message):
        data = self.audience.view(message["kind"], message["data"]) if self.audience else None
        if data is not None:
            await self.send_json({"kind": message["kind"], "data": data})

    async def tenant_access(self, message):
        ended = message.get("ended_login")
        if ended and ended == login_digest(self.scope["session"].session_key):
            self.audience = None
            await self.close(code=ACCESS_GONE)
        else:
            await self._recheck()

    async def _recheck_every_while(self):
        while self.audience is not None:
            await asyncio.sleep(RECHECK_SECONDS)
            await self._recheck()

    async def _recheck(self):
        if self.audience is None:
            return
        # The session as stored now (logged out, expired, password changed: no user), not as it was at connect.
        stored = type(self.scope["session"])(self.scope["session"].session_key)
        user = await get_user(dict(self.scope, session=stored))
        tenant_id = self.audience.tenant_id
        self.audience = await database_sync_to_async(tenant_events_audience)(user=user, pk=tenant_id)
        if self.audience is None:
            await self.close(code=ACCESS_GONE)


websocket_urlpatterns = [
    re_path(r"^ws/tenants/(?P<slug>[-a-zA-Z0-9_]{1,100})/events/$", TenantEventsConsumer.as_asgi()),
]


# ------------------------------------------------------------------------------- access changes re-check the streams


def _user_changed(sender, instance, **kwargs) -> None:
    tenant_access_changed(user_id=instance.user_id)


def _account_changed(sender, instance, created=False, update_fields=None, **kwargs) -> None:
    # Every login saves last_login alone: that changes nobody's access.
    if not created and update_fields != frozenset({"last_login"}):
        tenant_access_changed(user_id=instance.pk)


def _tenant_changed(sender, instance, created=False, **kwargs) -> None:
    if not created:
        tenant_access_changed(tenant_id=instance.pk)


def _logged_out(sender, request=None, user=None, **kwargs) -> None:
    # Told before the session is gone: the stream of that login closes without looking at the session again.
    if user is not None:
        key = request.session.session_key if request is not None else None
        tenant_access_changed(user_id=user.pk, ended_login=login_digest(key))


def connect() -> None:
    for model in (Membership, UserObjectPermission, GuestGrant):
        post_save.connect(_user_changed, sender=model, dispatch_uid=f"events-{model.__name__}-saved")
        post_delete.connect(_user_changed, sender=model, dispatch_uid=f"events-{model.__name__}-deleted")
    post_save.connect(_account_changed, sender=get_user_model(), dispatch_uid="events-user-saved")
    post_save.connect(_tenant_changed, sender=Tenant, dispatch_uid="events-tenant-saved")
    user_logged_out.connect(_logged_out, dispatch_uid="events-logged-out")
