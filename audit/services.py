from .models import AuditEvent


def audit_record(
    *,
    action: str,
    actor=None,
    actor_label: str = "",
    tenant=None,
    target: str = "",
    outcome: str = AuditEvent.Outcome.SUCCESS,
    ip_address: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else ""),
        tenant=tenant,
        target=target[:255],
        outcome=outcome,
        ip_address=ip_address,
        details=details or {},
    )
