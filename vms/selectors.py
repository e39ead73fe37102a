"""Reads of guests (QEMU VMs and LXC containers), always for a user and always through the choke point.

Guests live on Proxmox, not in our database: a server's guests come from one `cluster/resources` call, kept for
GUESTS_CACHE_SECONDS in Django's cache so that pages that poll do not hammer Proxmox (`fresh` bypasses it). The
servers of a listing are asked all at once, each within its own timeout (`proxmox.fan_out`). Who sees which guest
is `tenants.access.scopes`: everything of a server seen as a whole, only the granted guests of a server of which
the user holds single guests (vms.models.GuestGrant). The database queries of a listing do not grow with the
number of servers or guests.
"""

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from metrics.models import ConnectionMetric
from metrics.recorder import metric_record
from nexus.errors import ApplicationError
from servers import proxmox
from servers.errors import proxmox_failure, redacted
from servers.models import ProxmoxServer
from tenants import access, roles

# The order the portal offers them in: the everyday ones first, the abrupt ones last.
POWER_ACTIONS = ("start", "shutdown", "reboot", "suspend", "resume", "stop", "reset")
SORT_KEYS = ("name", "vmid", "server", "node", "type", "status", "cpu", "mem", "disk", "uptime")
STATUSES = ("running", "stopped", "unknown")
NODES_CACHE_SECONDS = 60
# How long the dashboard's guest counts outlive the list they came from.
GUEST_STATES_SECONDS = 3600


@dataclass(frozen=True)
class ServerRef:
    id: int
    name: str


@dataclass(frozen=True)
class Guest:
    server: ServerRef
    vmid: int
    name: str
    node: str
    type: str  # "qemu" | "lxc"
    status: str
    template: bool
    cpu: float
    maxcpu: int
    mem: int
    maxmem: int
    disk: int
    maxdisk: int
    uptime: int
    tags: list[str]
    # What the user who asked may do with the guest now: "console" and each power action, by their role or grant,
    # the tenant's settings, and the guest's type and state.
    actions: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def from_resource(cls, resource: dict, server: ServerRef) -> "Guest":
        """From one entry of Proxmox's cluster/resources; tolerant of missing figures, strict on identity."""
        try:
            vmid = int(resource["vmid"])
            node = str(resource["node"])
            kind = str(resource["type"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ApplicationError("Proxmox listed a guest without vmid, node or type.", status=502) from exc
        return cls(
            server=server,
            vmid=vmid,
            name=str(resource.get("name") or f"{kind}-{vmid}"),
            node=node,
            type=kind,
            status=str(resource.get("status") or "unknown"),
            template=bool(resource.get("template")),
            cpu=float(resource.get("cpu") or 0),
            maxcpu=int(resource.get("maxcpu") or 0),
            mem=int(resource.get("mem") or 0),
            maxmem=int(resource.get("maxmem") or 0),
            disk=int(resource.get("disk") or 0),
            maxdisk=int(resource.get("maxdisk") or 0),
            uptime=int(resource.get("uptime") or 0),
            tags=[tag for tag in str(resource.get("tags") or "").split(";") if tag],
        )

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def key(self) -> str:
        """Unique across servers: for element ids."""
        return f"{self.server.id}-{self.vmid}"

    def as_dict(self) -> dict:
        # By hand: dataclasses.asdict deep-copies every value, which was most of a warm listing's time.
        data = {name: getattr(self, name) for name in _GUEST_FIELDS}
        data.update(server={"id": self.server.id, "name": self.server.name}, tags=list(self.tags))
        data["actions"] = dict(self.actions)
        return data


_GUEST_FIELDS = [item.name for item in fields(Guest)]


@dataclass(frozen=True)
class ServerFailure:
    """A server whose guests could not be read, and why (`public_reason` without how the server is reached)."""

    server: ServerRef
    reason: str
    public_reason: str
    code: str
    status: int

    def for_user(self, may_see_address: bool) -> dict:
        reason = self.reason if may_see_address else self.public_reason
        return {"server": asdict(self.server), "reason": reason, "code": self.code}

    def error(self, may_see_address: bool) -> ApplicationError:
        reason = self.reason if may_see_address else self.public_reason
        return ApplicationError(reason, status=self.status, code=self.code)


@dataclass(frozen=True)
class GuestListing:
    guests: list[Guest]
    errors: list[ServerFailure]
    servers: list[ProxmoxServer]  # every server asked (for filters)
    changeable: frozenset[int]  # ids of the servers whose address the user may see (they may change them)
    nodes: list[str] = field(default_factory=list)  # the nodes of every guest the user sees, before filtering

    def errors_for_user(self) -> list[dict]:
        return [failure.for_user(failure.server.id in self.changeable) for failure in self.errors]


# ---------------------------------------------------------------------------------------------- one server's guests


def _cache_key(server_id: int) -> str:
    return f"vms:guests:{server_id}"


def server_guests_forget(*, server_id: int) -> None:
    """Drop a server's cached guests: the next read asks Proxmox (after a power action, or once a task ended)."""
    cache.delete(_cache_key(server_id))


def _failure(server: ProxmoxServer, error: Exception) -> ServerFailure:
    failure = proxmox_failure(error) if isinstance(error, proxmox.ProxmoxError) else error
    return ServerFailure(
        server=ServerRef(server.pk, server.name),
        reason=failure.message,
        public_reason=redacted(failure.message, server),
        code=failure.code,
        status=failure.status,
    )


def _entry(server: ProxmoxServer, value: list | None, error: Exception | None) -> dict:
    """What the cache keeps of one server's answer: plain data (the cache may be Redis)."""
    if error is None:
        return {"resources": [r for r in value if r.get("type") in proxmox.KINDS]}
    return {"failure": asdict(_failure(server, error))}


def _read(server: ProxmoxServer, entry: dict) -> list[Guest] | ServerFailure:
    if "failure" in entry:
        failure = entry["failure"]
        return ServerFailure(**{**failure, "server": ServerRef(**failure["server"])})
    ref = ServerRef(server.pk, server.name)
    try:
        guests = [Guest.from_resource(resource, ref) for resource in entry["resources"]]
    except ApplicationError as error:
        return _failure(server, error)
    return sorted(guests, key=lambda guest: guest.vmid)


def _fetch(servers: list[ProxmoxServer], *, fresh: bool) -> dict[int, list[Guest] | ServerFailure]:
    """Each server's guests (or why not): from the cache, and from Proxmox, all at once, for what it lacks."""
    keys = {server.pk: _cache_key(server.pk) for server in servers}
    cached = {} if fresh else cache.get_many(list(keys.values()))
    entries = {server.pk: cached[keys[server.pk]] for server in servers if keys[server.pk] in cached}
    connections, new = {}, {}
    for server in servers:
        if server.pk in entries:
            continue
        try:
            connections[server.pk] = server.connection()
        except (ApplicationError, proxmox.ProxmoxError) as error:
            new[server.pk] = _entry(server, None, error)
    by_id = {server.pk: server for server in servers}
    for server_id, result in proxmox.fan_out(connections, lambda client: client.guests()).items():
        new[server_id] = _entry(by_id[server_id], result.value, result.error)
        metric_record(
            server_id=server_id,
            kind=ConnectionMetric.Kind.GUEST_LIST,
            success=result.ok,
            elapsed=result.elapsed if result.ok else None,
            error="" if result.ok else result.error.message,
        )
    if new:
        cache.set_many({keys[server_id]: entry for server_id, entry in new.items()}, settings.GUESTS_CACHE_SECONDS)
        _remember_states(new)
    return {server.pk: _read(server, entries.get(server.pk) or new[server.pk]) for server in servers}


# ------------------------------------------------------------------------------------- guest counts for dashboards


def _states_key(server_id: int) -> str:
    return f"vms:guest-states:{server_id}"


def _remember_states(entries: dict[int, dict]) -> None:
    """Each listed server's guests as (vmid, type, status), kept GUEST_STATES_SECONDS (much longer than the list):
    the dashboard counts them without asking Proxmox."""
    now = time.time()
    states = {
        _states_key(server_id): {
            "as_of": now,
            "guests": [
                [int(r["vmid"]), r.get("type"), r.get("status")]
                for r in entry["resources"]
                if str(r.get("vmid", "")).isdigit() and not r.get("template")
            ],
        }
        for server_id, entry in entries.items()
        if "resources" in entry
    }
    cache.set_many(states, GUEST_STATES_SECONDS)


def tenant_guest_counts(*, tenant, user) -> dict:
    """The guests of the tenant the user may see, running and stopped by type, as the last guest lists read them
    (never asking Proxmox): servers_counted had a list in the last GUEST_STATES_SECONDS, servers_not_counted not;
    as_of is when the oldest list counted was read (a Unix time, None when none was)."""
    servers = list(servers_with_guests_for_user(user).filter(tenant=tenant, is_active=True))
    scopes = access.scopes(user, servers)
    found = cache.get_many([_states_key(server.pk) for server in servers])
    counts = {kind: {"running": 0, "stopped": 0} for kind in proxmox.KINDS}
    counted, oldest = 0, None
    for server in servers:
        states = found.get(_states_key(server.pk))
        if states is None:
            continue
        counted += 1
        oldest = min(oldest or states["as_of"], states["as_of"])
        for vmid, kind, status in states["guests"]:
            if scopes[server.pk].sees(vmid) and kind in counts and status in counts[kind]:
                counts[kind][status] += 1
    return {**counts, "servers_counted": counted, "servers_not_counted": len(servers) - counted, "as_of": oldest}


def guest_counts(servers: Iterable[ProxmoxServer]) -> dict[int, int | None]:
    """How many guests each active server has (cached, else asked of them all at once), by server id; None where
    the server did not answer. For those who see every guest of these servers (the operators' overview)."""
    active = [server for server in servers if server.is_active]
    found = _fetch(active, fresh=False) if active else {}
    return {server_id: len(result) if isinstance(result, list) else None for server_id, result in found.items()}


def server_nodes(*, server: ProxmoxServer) -> set[str]:
    """The names of a server's (cluster's) nodes; kept a minute, they rarely change."""
    key = f"vms:nodes:{server.pk}"
    nodes = cache.get(key)
    if nodes is None:
        with proxmox.ProxmoxClient(server.connection()) as client:
            nodes = sorted(str(node.get("node")) for node in client.nodes())
        cache.set(key, nodes, NODES_CACHE_SECONDS)
    return set(nodes)


# ------------------------------------------------------------------------------------------------ what a user may do


def _possible(guest: Guest) -> set[str]:
    """The power actions the guest's type and state allow (its state as far as the list tells: a paused VM is
    listed as running, so both suspend and resume are possible while it runs)."""
    if guest.template:
        return set()
    if guest.status == "stopped":
        return {"start"}
    if guest.status == "running":
        return {"shutdown", "reboot", "suspend", "resume", "stop"} | ({"reset"} if guest.type == "qemu" else set())
    return set(POWER_ACTIONS) - ({"reset"} if guest.type == "lxc" else set())  # unknown: Proxmox decides


def refusal(guest: Guest, action: str) -> str | None:
    """Why the guest's type or state cannot do `action` (None when it can): the power API's 409."""
    if guest.template:
        return f"{guest.name} is a template: templates cannot be started, stopped or reset."
    if action == "reset" and guest.type == "lxc":
        return f"{guest.name} is a container (LXC), which cannot be reset; use reboot, or stop then start."
    if action in _possible(guest):
        return None
    if action == "start":
        return f"{guest.name} is already running."
    return f"{guest.name} is not running."


def _actions(guest: Guest, perms: frozenset[str], tenant) -> dict[str, bool]:
    allowed = set(tenant.allowed_power_actions) if roles.POWER_GUESTS in perms else set()
    possible = _possible(guest)
    actions = {"console": roles.OPEN_CONSOLE in perms and tenant.console_enabled and guest.running}
    actions["console"] = actions["console"] and not guest.template
    actions.update({action: action in allowed and action in possible for action in POWER_ACTIONS})
    return actions


def _visible(guests: list[Guest], scope: access.Scope, tenant) -> list[Guest]:
    return [
        replace(guest, actions=_actions(guest, scope.of(guest.vmid), tenant))
        for guest in guests
        if scope.sees(guest.vmid)
    ]


# ------------------------------------------------------------------------------------------------------------ listing


def servers_with_guests_for_user(user) -> QuerySet:
    """The servers of which the user may see guests: all of them, or the ones granted to them alone."""
    return ProxmoxServer.objects.restrict(user, roles.VIEW_SERVER, parts=True).select_related("tenant")


def server_scopes_in_tenant(user, tenant) -> dict[int, access.Scope]:
    """What the user may do with each server of `tenant` they reach (whole or by single guests), by server id."""
    return access.scopes(user, servers_with_guests_for_user(user).filter(tenant=tenant))


def _changeable(user, servers: Iterable[ProxmoxServer], scopes: dict) -> frozenset[int]:
    return frozenset(server.pk for server in servers if roles.CHANGE_SERVER in scopes[server.pk].whole)


def server_with_guests_for_user(user, server_id) -> ProxmoxServer:
    """One server of which the user may see guests (all, or those granted alone); 404 otherwise."""
    return access.get_object_for_user(ProxmoxServer.objects.select_related("tenant"), user, pk=server_id, parts=True)


def guests_for_user(
    user,
    *,
    tenant: str = "",
    server_id: int | None = None,
    node: str = "",
    kind: str = "",
    status: str = "",
    search: str = "",
    sort: str = "",
    fresh: bool = False,
) -> GuestListing:
    """Every guest the user may see on the servers of `tenant` (a slug; all their tenants when empty), each with
    what the user may do with it, filtered and sorted; and the servers that could not be read."""
    servers = servers_with_guests_for_user(user)
    if tenant:
        servers = servers.filter(tenant__slug=tenant)
    if server_id is not None:
        servers = servers.filter(pk=server_id)
    servers = list(servers.order_by("name"))
    scopes = access.scopes(user, servers)
    guests, errors = [], []
    for server_id_, answer in _fetch(servers, fresh=fresh).items():
        if isinstance(answer, ServerFailure):
            errors.append(answer)
        else:
            server = next(server for server in servers if server.pk == server_id_)
            guests += _visible(answer, scopes[server_id_], server.tenant)
    nodes = sorted({guest.node for guest in guests})
    guests = _sorted([guest for guest in guests if _matches(guest, node, kind, status, search)], sort)
    return GuestListing(guests, errors, servers, _changeable(user, servers, scopes), nodes)


def _matches(guest: Guest, node: str, kind: str, status: str, search: str) -> bool:
    if (node and guest.node != node) or (kind and guest.type != kind) or (status and guest.status != status):
        return False
    if not search:
        return True
    needle = search.strip().lower()
    return (
        needle in guest.name.lower()
        or str(guest.vmid).startswith(needle)
        or any(needle in t.lower() for t in guest.tags)
    )


def _sorted(guests: list[Guest], sort: str) -> list[Guest]:
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        return sorted(guests, key=lambda guest: (guest.server.name, guest.vmid))
    if key == "server":
        value = lambda guest: (guest.server.name.lower(), guest.vmid)  # noqa: E731
    elif key in ("name", "node", "type", "status"):
        value = lambda guest: (str(getattr(guest, key)).lower(), guest.vmid)  # noqa: E731
    else:
        value = lambda guest: (getattr(guest, key), guest.vmid)  # noqa: E731
    return sorted(guests, key=value, reverse=sort.startswith("-"))


# ---------------------------------------------------------------------------------------------------------- one guest


@dataclass(frozen=True)
class GuestAccess:
    """One guest for one user: its server, what they may do with it there, and whether they may see the server's
    address (they may change the server)."""

    server: ProxmoxServer
    vmid: int
    perms: frozenset[str]

    @property
    def may_see_address(self) -> bool:
        return roles.CHANGE_SERVER in self.perms


def guest_access_for_user(user, server_id, vmid, perm: str | None = None) -> GuestAccess:
    """The one rule for every lookup of a guest: 404 unless the user may see the guest (its whole server, or this
    guest granted alone), 403 when they may see it but not do `perm`. Asks Proxmox nothing."""
    server = server_with_guests_for_user(user, server_id)
    scope = access.scope(user, server)
    if not scope.sees(vmid):
        raise Http404("No such guest.")
    perms = scope.of(vmid)
    if perm is not None and perm not in perms:
        raise PermissionDenied("You may see this guest but not do that.")
    return GuestAccess(server, vmid, perms)


def guest_permissions(user, server: ProxmoxServer, vmid: int) -> frozenset[str]:
    """What the user may do with one guest of `server` now (the console claim asks this again)."""
    return access.scope(user, server).of(vmid)


def server_guest(*, server: ProxmoxServer, vmid: int, fresh: bool = False) -> Guest:
    """One guest of a server as Proxmox lists it; the server's failure, or 404 when it has no such guest."""
    answer = _fetch([server], fresh=fresh)[server.pk]
    if isinstance(answer, ServerFailure):
        raise answer.error(may_see_address=True)
    for guest in answer:
        if guest.vmid == vmid:
            return guest
    raise ApplicationError(f"{server.name} has no guest {vmid}.", status=404, code="guest_not_found")


def guest_for_user(user, server_id, vmid, *, fresh: bool = False) -> Guest:
    """One guest, with what the user may do with it: as an item of `guests_for_user`."""
    found = guest_access_for_user(user, server_id, vmid)
    try:
        guest = server_guest(server=found.server, vmid=vmid, fresh=fresh)
    except ApplicationError as error:
        raise ApplicationError(
            error.message if found.may_see_address else redacted(error.message, found.server),
            status=error.status,
            code=error.code,
        ) from None
    return replace(guest, actions=_actions(guest, found.perms, found.server.tenant))
