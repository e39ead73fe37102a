from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Something that happened that is not a model change (those are in django-auditlog's LogEntry)."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the event still says who after the user is deleted (and names failed login attempts).
    actor_label = models.CharField(max_length=150, blank=True)
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    # tenants.access: a tenant's events are read by those who may read its audit log (platform admins read all,
    # those of no tenant too). A permission name only: audit imports no app.
    tenant_path = "tenant"
    grant_path = None
    view_permission = "tenants.view_audit"

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_recent")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label or '-'} {self.action} {self.outcome}"

    @property
    def actor_deleted(self) -> bool:
        """The account that acted was deleted since (a failed login never had one: it names what was tried)."""
        return self.actor_id is None and bool(self.actor_label) and self.action != "login"
