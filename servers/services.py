"""Writes of servers (add, change, delete, pin, import) and the calls a server's managers make on Proxmox (the
connection test, the presented certificate, the API explorer's reads)."""

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from audit.models import AuditEvent
from audit.services import audit_record
from nexus import crypto
from nexus.errors import ApplicationError
from tenants import access, roles
from tenants.events import tenant_event_publish
from tenants.models import Tenant

from . import imports, proxmox
from .models import ConnectionStatus, ProxmoxServer, TLSMode
from .signals import server_connection_saved

logger = logging.getLogger(__name__)

# What says how to reach a server: a change to any of them is checked again at once.
CONNECTION_FIELDS = (
    "host",
    "port",
    "token_id",
    "tls_mode",
    "ca_pem",
    "fingerprint",
    "use_tailscale",
    "tailscale_hostname",
    "connection_timeout",
    "is_active",
)
# The health check's console probe (metrics.services): off by default, on one chosen guest.
PROBE_FIELDS = ("console_probe", "console_probe_vmid")
EDITABLE_FIELDS = ("name", *CONNECTION_FIELDS, *PROBE_FIELDS)
# Written by the health checks (metrics.services) alone; those a changed address resets.
HEALTH_CHECK_FIELDS = (
    "last_health_check_at",
    "avg_response_time_ms",
    "success_rate",
    "health_lease",
    "health_lease_until",
)
HEALTH_RESET_FIELDS = ("connection_status", "health_check_error", "learned_timeout_ms", "consecutive_failures")
# The import's connection tests run at once, each within its own timeouts.
IMPORT_PROBE_WORKERS = 100


def servers_reencrypt_tokens() -> int:
    """Re-encrypt every stored token secret with the newest key; returns how many rows changed."""
    count = 0
    with transaction.atomic():
        for server in ProxmoxServer.objects.select_for_update().only("pk", "token_secret_encrypted"):
            server.token_secret_encrypted = crypto.reencrypt(server.token_secret_encrypted)
            server.save(update_fields=["token_secret_encrypted"])
            count += 1
    return count


# ------------------------------------------------------------------------------------------ add, change, delete


def server_check(*, server: ProxmoxServer, token_secret: str | None = None) -> None:
    """A ValidationError with every problem of `server` (unsaved changes included), field by field: the model's
    rules, the tenant's limit, a name free in the tenant, and `token_secret` (None keeps the stored one), which is
    set on the server when it is acceptable. The secret is never part of a message."""
    errors: dict[str, list[str]] = {}
    if token_secret is not None:
        problem = proxmox.token_secret_problem(token_secret)
        if problem:
            errors["token_secret"] = [problem]
        else:
            server.token_secret = token_secret
    elif not server.token_secret_encrypted:
        errors["token_secret"] = ["A new server needs its API token secret."]
    try:
        server.full_clean(exclude=["token_secret_encrypted", "created_by"], validate_constraints=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if server.tenant_id and server.name and "name" not in errors and _name_taken(server):
        errors["name"] = [f"{server.tenant} already has a server named {server.name}."]
    if errors:
        raise ValidationError(errors)


def _name_taken(server: ProxmoxServer) -> bool:
    return ProxmoxServer.objects.filter(tenant_id=server.tenant_id, name=server.name).exclude(pk=server.pk).exists()


def _lock_tenant(tenant: Tenant) -> None:
    """Until the transaction ends, other changes of the tenant's servers wait: its limit and names hold."""
    list(Tenant.objects.select_for_update().filter(pk=tenant.pk).values_list("pk"))


def _save(server: ProxmoxServer, *, announce: bool, update_fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            server.save(update_fields=update_fields)
    except IntegrityError:  # the database's own guard of unique names
        raise ValidationError({"name": [f"{server.tenant} already has a server named {server.name}."]}) from None
    tenant_event_publish(tenant_id=server.tenant_id, kind="server.changed", data=server_event(server))
    if announce:
        server_id = server.pk
        transaction.on_commit(lambda: server_connection_announce(server_id=server_id))


def server_event(server: ProxmoxServer) -> dict:
    """What a tenant's pages hear of a server (never its connection details)."""
    return {
        "id": server.pk,
        "name": server.name,
        "is_active": server.is_active,
        "connection_status": server.connection_status,
    }


def server_connection_announce(*, server_id: int) -> None:
    """Tell the apps above that a server's connection settings were saved (metrics checks it at once); call it
    once the saving transaction committed."""
    for receiver, result in server_connection_saved.send_robust(sender=ProxmoxServer, server_id=server_id):
        if isinstance(result, Exception):  # the check waits for the next sweep; the save stands
            logger.warning("server %s saved, but %s failed: %s", server_id, receiver, result)


def server_create(*, tenant: Tenant, actor, token_secret: str, **fields) -> ProxmoxServer:
    """Add a server to `tenant`: checked (limit and name under the tenant's lock), saved, its first health check
    queued once the transaction commits."""
    _only_editable(fields)
    server = ProxmoxServer(tenant=tenant, created_by=actor if actor and actor.is_authenticated else None, **fields)
    with transaction.atomic():
        _lock_tenant(tenant)
        server_check(server=server, token_secret=token_secret)
        _save(server, announce=True)
    return server


def server_update(*, server: ProxmoxServer, actor, token_secret: str | None = None, **fields) -> ProxmoxServer:
    """Change a server; `token_secret` None keeps the stored one. Changed connection settings are checked again
    at once, and until then the server's status is unknown."""
    _only_editable(fields)
    for name, value in fields.items():
        setattr(server, name, value)
    with transaction.atomic():
        _lock_tenant(server.tenant)
        # As stored (a form may have changed the instance already).
        before = ProxmoxServer.objects.filter(pk=server.pk).values(*CONNECTION_FIELDS).get()
        server_check(server=server, token_secret=token_secret)
        reconnect = token_secret is not None or any(getattr(server, name) != before[name] for name in before)
        if reconnect:
            server.connection_status, server.health_check_error = ConnectionStatus.UNKNOWN, ""
            # What the health checks learned of the old address says nothing of the new one.
            server.learned_timeout_ms, server.consecutive_failures = None, 0
        # Not what a health check may be writing meanwhile (its lease, figures and status), unless reset here.
        kept = HEALTH_CHECK_FIELDS if reconnect else HEALTH_CHECK_FIELDS + HEALTH_RESET_FIELDS
        fields = [field.name for field in ProxmoxServer._meta.concrete_fields if field.name not in kept]
        _save(server, announce=reconnect, update_fields=[name for name in fields if name != "id"])
    return server


def _only_editable(fields: dict) -> None:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")


def server_delete(*, server: ProxmoxServer, actor) -> None:
    """Delete a server with its metrics; its open console sessions end (console ends them as it goes)."""
    data = {"id": server.pk, "name": server.name}
    with transaction.atomic():
        server.delete()
        tenant_event_publish(tenant_id=server.tenant_id, kind="server.deleted", data=data)


def server_fingerprint_pin(*, server: ProxmoxServer, actor, fingerprint: str) -> ProxmoxServer:
    """Pin the fingerprint a user compared and confirmed (trust on first use): the server verifies by it from now."""
    try:
        pinned = proxmox.normalise_fingerprint(fingerprint)
    except proxmox.ConfigurationError as error:
        raise ValidationError({"fingerprint": [error.message]}) from None
    return server_update(server=server, actor=actor, tls_mode=TLSMode.FINGERPRINT, fingerprint=pinned)


# -------------------------------------------------------------------------------------------- calls to Proxmox


@dataclass(frozen=True)
class PresentedCertificate:
    fingerprint: str
    pinned: str  # "" when the server does not pin a fingerprint
    matches_pin: bool | None  # None when the server does not pin a fingerprint


def server_presented_certificate(*, server: ProxmoxServer) -> PresentedCertificate:
    """The fingerprint the server presents now, for a user to compare and pin (never pinned automatically)."""
    settings = server.connection_settings()
    presented = proxmox.fetch_fingerprint(
        settings["host"], settings["port"], settings["timeout"], settings["denied_networks"]
    )
    pinned = server.fingerprint if server.tls_mode == TLSMode.FINGERPRINT else ""
    return PresentedCertificate(presented, pinned, (presented == pinned) if pinned else None)


def server_token_report(*, server: ProxmoxServer) -> proxmox.PrivilegeReport:
    """What the stored token may do on Proxmox, compared with what the broker needs."""
    with proxmox.ProxmoxClient(server.connection()) as client:
        return client.token_privilege_report()


def server_test_check(*, server: ProxmoxServer, token_secret: str | None) -> None:
    """server_check for settings that are only tested: no tenant or name needed, and no pin yet (the test shows
    the fingerprint to pin)."""
    try:
        server_check(server=server, token_secret=token_secret)
    except ValidationError as error:
        ignored = {"tenant", "name", NON_FIELD_ERRORS}
        if server.tls_mode == TLSMode.FINGERPRINT and not server.fingerprint:
            ignored.add("fingerprint")
        remaining = {name: messages for name, messages in error.message_dict.items() if name not in ignored}
        if remaining:
            raise ValidationError(remaining) from None


def server_connection_test(*, server: ProxmoxServer, token_secret: str | None = None) -> Iterator[proxmox.Step]:
    """The connection test of a server's settings, saved or not (`token_secret` of settings not saved), step by
    step as each completes. The token goes only to a server whose TLS identity verified."""
    return proxmox.connection_test(server.connection_settings(token_secret))


def server_api_read(*, server: ProxmoxServer, user, path: str, params: dict, client_ip: str | None) -> Any:
    """One read of the Proxmox API explorer, audited whatever its outcome. The caller has checked that the user
    may explore the server; node logs are for those who may read them too (tenant admins)."""

    def audit(outcome: str, **details) -> None:
        audit_record(
            action="proxmox api read",
            actor=user,
            tenant=server.tenant,
            target=f"{server.name}: GET {path}"[:255],
            outcome=outcome,
            ip_address=client_ip,
            details={"server_id": server.pk, "path": path, "params": params, **details},
        )

    try:
        endpoint, _ = proxmox.check_get(path, params)
    except proxmox.InvalidRequest as error:
        audit(AuditEvent.Outcome.DENIED, reason=error.message)
        raise
    if endpoint.node_log and not access.can(user, roles.READ_NODE_LOGS, server):
        message = "A node's logs may name other tenants' guests: only tenant admins read them."
        audit(AuditEvent.Outcome.DENIED, reason=message)
        raise ApplicationError(message, status=403, code="node_logs_for_admins")
    started = time.monotonic()
    try:
        with proxmox.ProxmoxClient(server.connection()) as client:
            data = client.api_get(path, params)
    except (proxmox.ProxmoxError, ApplicationError) as error:
        audit(AuditEvent.Outcome.FAILURE, reason=error.message)
        raise
    audit(AuditEvent.Outcome.SUCCESS, elapsed_ms=round((time.monotonic() - started) * 1000))
    return data


def server_explorer_choices(*, server: ProxmoxServer, endpoint: proxmox.GetEndpoint) -> tuple[dict, str]:
    """The server's real nodes and guests for the explorer's {node} and {vmid} (guests of the path's kind), and
    what went wrong when Proxmox did not tell (the user then types them)."""
    wanted = set(endpoint.placeholders)
    choices: dict[str, list[dict]] = {}
    if not wanted & {"node", "vmid"}:
        return choices, ""
    kind = next((kind for kind in proxmox.KINDS if f"/{kind}/" in endpoint.path), None)
    try:
        with proxmox.ProxmoxClient(server.connection()) as client:
            if "vmid" in wanted:
                guests = [g for g in client.guests() if g.get("type") in proxmox.KINDS and kind in (None, g["type"])]
                choices["guest"] = [
                    {
                        "value": f"{g.get('node')}/{g.get('vmid')}",
                        "label": f"{g.get('name') or g['type']} ({g.get('vmid')}) on {g.get('node')}",
                    }
                    for g in sorted(guests, key=lambda g: int(g.get("vmid") or 0))
                ]
            else:
                choices["node"] = [{"value": n.get("node"), "label": n.get("node")} for n in client.nodes()]
    except (proxmox.ProxmoxError, ApplicationError) as error:
        return {}, error.message
    return choices, ""


# ----------------------------------------------------------------------------------------------------- import


@dataclass
class ImportRow:
    line: int
    name: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    probe: dict | None = None  # the connection test's result, when asked for
    server: ProxmoxServer | None = None  # checked, not saved (or saved by a real import)
    token_secret: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {"line": self.line, "name": self.name, "ok": self.ok, "errors": self.errors, "probe": self.probe}


@dataclass
class ImportReport:
    rows: list[ImportRow]
    problems: list[str]  # what is wrong with the file as a whole (the tenant's limit)
    dry_run: bool
    imported: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and all(row.ok for row in self.rows)

    @property
    def bad_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if not row.ok]

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "ok": self.ok,
            "imported": len(self.rows) if self.imported else 0,
            "problems": self.problems,
            "rows": [row.as_dict() for row in self.rows],
        }


def servers_import(*, tenant: Tenant, actor, content: bytes, dry_run: bool, probe: bool = False) -> ImportReport:
    """Import servers from a CSV file (servers.imports), all or nothing.

    Every row is checked as a server added alone would be, plus names repeated in the file and the tenant's limit
    for all rows together; every problem is reported with its line. A dry run changes nothing and, with `probe`,
    tests every valid row's connection concurrently. A real import saves every row in one transaction or, when
    any row or the file has a problem, nothing.
    """
    rows = [_import_row(tenant, csv_row) for csv_row in imports.csv_rows(content)]
    _mark_repeated_names(rows)
    report = ImportReport(rows, _limit_problems(tenant, len(rows)), dry_run)
    if dry_run:
        if probe:
            _probe(row for row in rows if row.ok)
        return report
    if not report.ok:
        return report
    with transaction.atomic():
        _lock_tenant(tenant)
        report.problems = _limit_problems(tenant, len(rows))
        for row in rows:  # names taken since the rows were checked
            if _name_taken(row.server):
                row.errors["name"] = [f"{tenant} already has a server named {row.name}."]
        if not report.ok:
            return report
        for row in rows:
            row.server.created_by = actor if actor and actor.is_authenticated else None
            _save(row.server, announce=True)
        report.imported = True
        audit_record(
            action="servers imported",
            actor=actor,
            tenant=tenant,
            target=f"{len(rows)} servers",
            details={"servers": [row.name for row in rows]},
        )
    return report


def _import_row(tenant: Tenant, csv_row: imports.CsvRow) -> ImportRow:
    values = csv_row.values
    row = ImportRow(csv_row.line, values["name"], token_secret=values["token_secret"])
    if csv_row.problem:
        row.errors[NON_FIELD_ERRORS] = [csv_row.problem]
        return row
    fields: dict[str, Any] = {
        "name": values["name"],
        "host": values["host"],
        "token_id": values["token_id"],
        "fingerprint": values["fingerprint"],
        "ca_pem": values["ca_pem"],
        "tailscale_hostname": values["tailscale_hostname"],
        "use_tailscale": bool(values["tailscale_hostname"]),
        "tls_mode": values["tls_mode"].lower() or _implied_tls_mode(values),
    }
    for name, default in (("port", 8006), ("connection_timeout", 10)):
        try:
            fields[name] = int(values[name]) if values[name] else default
        except ValueError:
            row.errors[name] = ["Give a whole number."]
    server = ProxmoxServer(tenant=tenant, **fields)
    try:
        server_check(server=server, token_secret=row.token_secret)
    except ValidationError as error:
        # The tenant's limit is counted for the whole file, not row by row.
        row.errors.update({name: msgs for name, msgs in error.message_dict.items() if name != "tenant"})
    row.server = server
    return row


def _implied_tls_mode(values: dict[str, str]) -> str:
    if values["fingerprint"]:
        return TLSMode.FINGERPRINT
    return TLSMode.CA if values["ca_pem"] else TLSMode.SYSTEM


def _mark_repeated_names(rows: list[ImportRow]) -> None:
    first_line: dict[str, int] = {}
    for row in rows:
        if not row.name:
            continue
        if row.name in first_line:
            row.errors.setdefault("name", []).append(f"Line {first_line[row.name]} already names {row.name}.")
        else:
            first_line[row.name] = row.line


def _limit_problems(tenant: Tenant, adding: int) -> list[str]:
    existing = ProxmoxServer.objects.filter(tenant=tenant).count()
    if existing + adding <= tenant.max_servers:
        return []
    room = max(tenant.max_servers - existing, 0)
    return [
        f"{tenant} has {existing} of its at most {tenant.max_servers} servers: room for {room} more, and the file "
        f"adds {adding}."
    ]


def _probe(rows: Iterator[ImportRow]) -> None:
    """The connection test of each row at once, each bounded by its own timeouts."""
    rows = list(rows)
    if not rows:
        return

    def test(row: ImportRow) -> dict:
        try:
            steps = list(server_connection_test(server=row.server, token_secret=row.token_secret))
        except (proxmox.ProxmoxError, ApplicationError) as error:
            return {"outcome": proxmox.probe.FAILED, "message": error.message, "response_time_ms": None, "steps": []}
        return _probe_summary(steps)

    with ThreadPoolExecutor(max_workers=min(len(rows), IMPORT_PROBE_WORKERS), thread_name_prefix="probe") as pool:
        for row, result in zip(rows, pool.map(test, rows), strict=True):
            row.probe = result


def _probe_summary(steps: list[proxmox.Step]) -> dict:
    result = proxmox.result_of(steps)
    failed = next((step for step in steps if step.outcome == proxmox.probe.FAILED), None)
    warned = next((step for step in steps if step.outcome == proxmox.probe.WARNING), None)
    version = next((step for step in steps if step.key == "version" and step.outcome == proxmox.probe.OK), None)
    if failed:
        result["message"] = failed.message
    else:
        result["message"] = " ".join(step.message for step in (version, warned) if step)
    return result
