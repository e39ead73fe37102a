"""The audit log as tenant admins and operators read it: the project's audit events (logins, consoles, power,
refusals, grants, tokens) and django-auditlog's model changes (tenants, memberships, servers, guest grants, group
mappings) in one timeline.

Reads go through the choke point: a tenant admin reads their tenants' entries, a platform admin every entry
(including those of no tenant, such as logins). The two tables are read newest first and merged as they stream, so
a page reads only as far as it shows, and an export of a year never holds more than a chunk in memory.
"""

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from audit.models import AuditEvent

from . import access, roles
from .models import Tenant

CHUNK = 2000
# django-auditlog's actions, as the timeline words them.
CHANGE_VERBS = {LogEntry.Action.CREATE: "created", LogEntry.Action.UPDATE: "changed", LogEntry.Action.DELETE: "deleted"}


@dataclass(frozen=True)
class Filters:
    tenant: str = ""  # slug
    actor: str = ""  # user name, exactly
    action: str = ""  # part of the action's words
    target: str = ""  # part of the target's name
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    actor_deleted: bool
    tenant: str
    action: str
    target: str
    outcome: str
    ip_address: str
    details: dict
    kind: str  # "event" or "change"
    id: int


def audit_tenants(user) -> QuerySet:
    """The tenants whose audit log the user reads."""
    return Tenant.objects.restrict(user, roles.VIEW_AUDIT)


def _logged_models() -> list:
    """Every model whose changes django-auditlog records (tenants, memberships, servers, guest grants, group
    mappings, and the platform's own settings); those of a tenant keep {"tenant": id} with each change
    (get_additional_data), which is how a tenant admin's timeline finds them."""
    return auditlog.get_models()


def _events(user, filters: Filters) -> QuerySet:
    events = access.restrict(AuditEvent.objects.all(), user, roles.VIEW_AUDIT)
    if filters.tenant:
        events = events.filter(tenant__slug=filters.tenant)
    if filters.actor:
        events = events.filter(Q(actor__username=filters.actor) | Q(actor__isnull=True, actor_label=filters.actor))
    if filters.action:
        events = events.filter(action__icontains=filters.action)
    events = _narrow(events, filters, target="target", time="created_at")
    return events.select_related("actor", "tenant").order_by("-created_at", "-pk")


def _narrow(queryset: QuerySet, filters: Filters, *, target: str, time: str) -> QuerySet:
    """The filters both tables share, on their own fields: part of the target's name, and the time span."""
    if filters.target:
        queryset = queryset.filter(**{f"{target}__icontains": filters.target})
    if filters.since:
        queryset = queryset.filter(**{f"{time}__gte": filters.since})
    if filters.until:
        queryset = queryset.filter(**{f"{time}__lt": filters.until})
    return queryset


def _change_action(entry: LogEntry) -> str:
    model = entry.content_type.model_class()
    name = model._meta.verbose_name if model else entry.content_type.model
    return f"{name} {CHANGE_VERBS.get(entry.action, 'accessed')}"


def _changes(user, filters: Filters) -> QuerySet:
    models = _logged_models()
    types = ContentType.objects.get_for_models(*models)
    changes = LogEntry.objects.filter(content_type__in=types.values())
    if not access.is_platform_admin(user) or filters.tenant:
        tenants = audit_tenants(user)
        if filters.tenant:
            tenants = tenants.filter(slug=filters.tenant)
        changes = changes.filter(additional_data__tenant__in=list(tenants.values_list("pk", flat=True)))
    if filters.actor:
        changes = changes.filter(actor__username=filters.actor)
    if filters.action:
        # The words are made here, not stored: match them against each kind of change.
        wanted = filters.action.lower()
        matching = Q(pk__in=[])
        for model, content_type in types.items():
            for code, verb in CHANGE_VERBS.items():
                if wanted in f"{model._meta.verbose_name} {verb}".lower():
                    matching |= Q(content_type=content_type, action=code)
        changes = changes.filter(matching)
    changes = _narrow(changes, filters, target="object_repr", time="timestamp")
    return changes.select_related("actor", "content_type").order_by("-timestamp", "-pk")


def _event_entry(event: AuditEvent) -> Entry:
    return Entry(
        at=event.created_at,
        actor=event.actor.get_username() if event.actor else event.actor_label,
        actor_deleted=event.actor_deleted,
        tenant=event.tenant.slug if event.tenant else "",
        action=event.action,
        target=event.target,
        outcome=event.outcome,
        ip_address=event.ip_address or "",
        details=event.details,
        kind="event",
        id=event.pk,
    )


def _change_entry(entry: LogEntry, slugs: dict[int, str]) -> Entry:
    deleted = entry.actor_id is None and bool(entry.actor_email)
    return Entry(
        at=entry.timestamp,
        actor=entry.actor.get_username() if entry.actor else (entry.actor_email or ""),
        actor_deleted=deleted,
        tenant=slugs.get((entry.additional_data or {}).get("tenant"), ""),
        action=_change_action(entry),
        target=entry.object_repr,
        outcome=AuditEvent.Outcome.SUCCESS,
        ip_address=entry.remote_addr or "",
        details=entry.changes or {},
        kind="change",
        id=entry.pk,
    )


def _merged(events, changes, slugs) -> "itertools.chain":
    streams = [
        (_event_entry(event) for event in events),
        (_change_entry(entry, slugs) for entry in changes),
    ]
    return heapq.merge(*streams, key=lambda entry: entry.at, reverse=True)


def timeline_count(user, filters: Filters) -> int:
    return _events(user, filters).count() + _changes(user, filters).count()


def timeline_page(user, filters: Filters, *, offset: int, limit: int) -> list[Entry]:
    """Entries offset to offset + limit of the timeline, newest first."""
    slugs = dict(Tenant.objects.values_list("pk", "slug"))
    end = offset + limit
    merged = _merged(_events(user, filters)[:end], _changes(user, filters)[:end], slugs)
    return list(itertools.islice(merged, offset, end))


def timeline_stream(user, filters: Filters):
    """Every entry, newest first, read in chunks as it is consumed."""
    slugs = dict(Tenant.objects.values_list("pk", "slug"))
    return _merged(
        _events(user, filters).iterator(chunk_size=CHUNK), _changes(user, filters).iterator(chunk_size=CHUNK), slugs
    )
