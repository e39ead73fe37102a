"""Writes about guests: power actions (audited, refused or not), watching their tasks, and single-guest grants."""

import time
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404

from audit.models import AuditEvent
from audit.services import audit_record
from metrics.models import ConnectionMetric
from metrics.recorder import metric_record
from nexus.errors import ApplicationError
from servers import proxmox
from servers.errors import proxmox_failure, redacted
from servers.models import ProxmoxServer
from tenants import roles
from tenants.events import tenant_event_publish

from .models import GuestGrant
from .selectors import (
    POWER_ACTIONS,
    Guest,
    GuestAccess,
    ServerRef,
    guest_access_for_user,
    refusal,
    server_guest,
    server_guests_forget,
    server_nodes,
)

# Lines of a task's log that the task API returns: the end of it.
TASK_LOG_TAIL = 20
# How many of the node's latest tasks are searched for a finished task's end time.
TASK_LIST_LIMIT = 100
# Proxmox refuses an action in the wrong state, or on a locked guest, with HTTP 500 and these words.
_STATE_REFUSALS = ("already running", "not running", "is locked", "template", "not paused", "is paused")


@dataclass(frozen=True)
class PowerTask:
    server: ProxmoxServer
    vmid: int
    action: str
    upid: str


def _audit_power(*, user, server, vmid, action, client_ip, outcome, guest=None, upid="", reason="") -> None:
    details = {"server": server.pk if server else None, "vmid": vmid, "action": action}
    details.update({key: value for key, value in (("guest", guest), ("upid", upid), ("reason", reason)) if value})
    audit_record(
        action="guest power",
        actor=user,
        tenant=server.tenant if server else None,
        target=f"{server.name if server else '?'}/{vmid}",
        outcome=outcome,
        ip_address=client_ip,
        details=details,
    )


def _proxmox_refusal(error: proxmox.ProxmoxError, found: GuestAccess) -> ApplicationError:
    """A failed power call in words for the user: Proxmox's refusal of the guest's state is a 409."""
    failure = proxmox_failure(error)
    message = failure.message if found.may_see_address else redacted(failure.message, found.server)
    if isinstance(error, proxmox.GuestNotRunning) or (
        isinstance(error, proxmox.ProxmoxAPIError) and any(words in error.message for words in _STATE_REFUSALS)
    ):
        return ApplicationError(message, status=409, code="guest_state")
    return ApplicationError(message, status=failure.status, code=failure.code)


def guest_power(*, user, server_id, vmid: int, action: str, client_ip: str | None) -> PowerTask:
    """Start a power action on one guest: 404 unless the user may see it, 403 without power there or when the
    tenant does not allow the action, 409 when the guest's type or state cannot do it. Every call, refused or not,
    is an audit event."""
    found = None
    audit = {"user": user, "vmid": vmid, "action": str(action)[:32], "client_ip": client_ip}
    try:
        found = guest_access_for_user(user, server_id, vmid)
        if roles.POWER_GUESTS not in found.perms:
            raise PermissionDenied("You may see this guest but not start or stop it.")
        tenant = found.server.tenant
        if action not in POWER_ACTIONS:
            raise ApplicationError(
                f"Unknown power action {str(action)[:32]!r}: use one of {', '.join(POWER_ACTIONS)}.",
                status=409,
                code="unknown_action",
            )
        if action not in tenant.allowed_power_actions:
            raise ApplicationError(
                f"{tenant.name} does not allow {action} of its guests.", status=403, code="forbidden"
            )
        guest = server_guest(server=found.server, vmid=vmid, fresh=True)
        if reason := refusal(guest, action):
            raise ApplicationError(reason, status=409, code="guest_state")
        upid = _power(found.server, guest, action)
    except (Http404, PermissionDenied) as error:
        server = found.server if found else None
        _audit_power(**audit, server=server, outcome=AuditEvent.Outcome.DENIED, reason=str(error))
        raise
    except (ApplicationError, proxmox.ProxmoxError) as error:
        if isinstance(error, proxmox.ProxmoxError):
            error = _proxmox_refusal(error, found)
        elif not found.may_see_address:
            error = ApplicationError(redacted(error.message, found.server), status=error.status, code=error.code)
        denied = error.status == 403
        outcome = AuditEvent.Outcome.DENIED if denied else AuditEvent.Outcome.FAILURE
        _audit_power(**audit, server=found.server, outcome=outcome, reason=error.message)
        raise error from None
    server = found.server
    server_guests_forget(server_id=server.pk)
    _audit_power(**audit, server=server, outcome=AuditEvent.Outcome.SUCCESS, guest=guest.name, upid=upid)
    tenant_event_publish(
        tenant_id=server.tenant_id,
        kind="task.progress",
        data={"server": server.pk, "vmid": vmid, "action": action, "upid": upid, "status": "running"},
    )
    return PowerTask(server=server, vmid=vmid, action=action, upid=upid)


def _power(server: ProxmoxServer, guest: Guest, action: str) -> str:
    """Ask Proxmox for the action; its time and outcome become a call metric."""
    started = time.monotonic()
    try:
        with proxmox.ProxmoxClient(server.connection()) as client:
            upid = client.power(guest.node, guest.type, guest.vmid, action)
    except proxmox.ProxmoxError as error:
        metric_record(
            server_id=server.pk, kind=ConnectionMetric.Kind.POWER, success=False, elapsed=None, error=error.message
        )
        raise
    metric_record(
        server_id=server.pk, kind=ConnectionMetric.Kind.POWER, success=True, elapsed=time.monotonic() - started
    )
    return upid


@dataclass(frozen=True)
class TaskStatus:
    """A Proxmox task as its own status API shapes it, plus when it ended and the end of its log."""

    server: ServerRef
    vmid: int
    status: dict  # upid, node, type, id, user, status (running|stopped), exitstatus, starttime, pid, pstart
    endtime: int | None
    log: list[dict]  # [{"n": line number, "t": text}], the last TASK_LOG_TAIL lines

    @property
    def running(self) -> bool:
        return self.status.get("status") != "stopped"

    @property
    def ok(self) -> bool:
        return not self.running and self.status.get("exitstatus") == "OK"

    @property
    def action(self) -> str:
        """The power action of a power task (qmstart, vzstop, ...): start, stop, ...; else the task's type."""
        kind = str(self.status.get("type", ""))
        return kind[2:] if kind[:2] in ("qm", "vz") and kind[2:] in proxmox.POWER_ACTIONS else kind

    def as_dict(self) -> dict:
        return {
            **self.status,
            "endtime": self.endtime,
            "log": self.log,
            "server": {"id": self.server.id, "name": self.server.name},
            "vmid": self.vmid,
            "action": self.action,
        }


def _no_such_task() -> Http404:
    return Http404("No such task.")


def guest_task_status(*, user, server_id, upid: str) -> TaskStatus:
    """A task of a guest the user may see: 404 for a UPID that does not parse, that is about no guest they see, or
    whose node is not one of the server's. Once the task has ended, the guest's cached state is dropped and the
    tenant hears of it (once)."""
    try:
        parsed = proxmox.parse_upid(upid)
    except proxmox.InvalidRequest:
        raise _no_such_task() from None
    if parsed.vmid is None:
        raise _no_such_task()
    found = guest_access_for_user(user, server_id, parsed.vmid)
    server = found.server
    try:
        if parsed.node not in server_nodes(server=server):
            raise _no_such_task()
        with proxmox.ProxmoxClient(server.connection()) as client:
            status = client.task_status(parsed.node, upid)
            log = client.task_log(parsed.node, upid, limit=500)[-TASK_LOG_TAIL:]
            endtime = None
            if status.get("status") == "stopped":
                listed = client.tasks(parsed.node, vmid=parsed.vmid, limit=TASK_LIST_LIMIT)
                endtime = next((task.get("endtime") for task in listed if task.get("upid") == upid), None)
    except proxmox.NotFound:
        raise _no_such_task() from None
    except proxmox.ProxmoxError as error:
        raise _proxmox_refusal(error, found) from None
    except ApplicationError as error:
        message = error.message if found.may_see_address else redacted(error.message, server)
        raise ApplicationError(message, status=error.status, code=error.code) from None
    task = TaskStatus(ServerRef(server.pk, server.name), parsed.vmid, status, endtime, log)
    if task.running:
        data = {"server": server.pk, "vmid": task.vmid, "upid": upid, "action": task.action, "status": "running"}
        tenant_event_publish(tenant_id=server.tenant_id, kind="task.progress", data={**data, "log": log[-1:]})
    else:
        _task_ended(server, task)
    return task


def _task_ended(server: ProxmoxServer, task: TaskStatus) -> None:
    server_guests_forget(server_id=server.pk)
    # Whoever sees the end first tells the tenant; later polls of the same task do not.
    if not cache.add(f"vms:task-ended:{task.status.get('upid')}", time.time(), 3600):
        return
    data = {"server": server.pk, "vmid": task.vmid, "upid": task.status.get("upid"), "action": task.action}
    exitstatus = str(task.status.get("exitstatus", ""))
    tenant_event_publish(tenant_id=server.tenant_id, kind="task.done", data={**data, "exitstatus": exitstatus})
    try:
        guest = server_guest(server=server, vmid=task.vmid, fresh=True)
    except ApplicationError:
        return  # the guest's state stays unknown until the next listing
    tenant_event_publish(
        tenant_id=server.tenant_id,
        kind="guest.state",
        data={"server": server.pk, "vmid": guest.vmid, "status": guest.status, "uptime": guest.uptime},
    )


# ------------------------------------------------------------------------------------------------------------ grants


def guest_grant_set(
    *, user, server: ProxmoxServer, vmid: int, console: bool = False, power: bool = False, actor=None
) -> GuestGrant:
    """Grant one guest to a user (they see it), with its console and power actions or not; or change what an
    existing grant of that guest to that user gives."""
    grant = GuestGrant.objects.filter(user=user, server=server, vmid=vmid).first()
    if grant is None:
        grant = GuestGrant(user=user, server=server, vmid=vmid, created_by=actor)
    grant.console, grant.power = console, power
    grant.full_clean()
    grant.save()
    return grant


def guest_grant_revoke(*, grant: GuestGrant) -> None:
    """Take a single-guest grant back: the user no longer sees that guest."""
    grant.delete()
