from django.conf import settings
from django.db import models

from tenants import roles
from tenants.access import RestrictedQuerySet

from .relay import CloseReason

CLOSE_REASONS = [(reason.name.lower(), reason.text) for reason in CloseReason]


class ConsoleSessionQuerySet(RestrictedQuerySet):
    def open(self):
        return self.filter(opened_at__isnull=False, closed_at__isnull=True)

    def closed(self):
        return self.filter(closed_at__isnull=False)


class ConsoleSession(models.Model):
    """One console: from the one-time token the portal hands out to the end of the relay."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="console_sessions")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="console_sessions")
    server = models.ForeignKey("servers.ProxmoxServer", on_delete=models.CASCADE, related_name="console_sessions")
    node = models.CharField(max_length=64)
    guest_type = models.CharField(max_length=8)
    vmid = models.PositiveIntegerField()
    guest_name = models.CharField(max_length=128, blank=True)
    # SHA-256 of the one-time token; the token itself only ever exists in the browser.
    token_hash = models.CharField(max_length=64, unique=True)
    token_expires_at = models.DateTimeField()
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    bytes_to_client = models.BigIntegerField(default=0)
    bytes_to_server = models.BigIntegerField(default=0)
    close_reason = models.CharField(max_length=32, choices=CLOSE_REASONS, blank=True)
    # The consumer's channel while its relay lives: emptied when the relay ends (or is found lost).
    channel_name = models.CharField(max_length=255, blank=True, editable=False)
    # The relay's heartbeat: a session whose relay stopped beating lost its process (console.services).
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    # SHA-256 of the login session's key the console was opened from: logging out of it ends the console.
    login_hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = ConsoleSessionQuerySet.as_manager()

    # tenants.access: a tenant's sessions are seen (and ended) by those who manage its consoles.
    tenant_path = "tenant"
    grant_path = None
    view_permission = roles.MANAGE_CONSOLES

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "closed_at"], name="console_tenant_open")]

    def __str__(self) -> str:
        return f"{self.user} on {self.guest_type}/{self.vmid} ({self.server})"

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None and self.closed_at is None
