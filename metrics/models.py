from django.db import models


class ConnectionMetric(models.Model):
    """One attempt to reach a Proxmox server: a health check, an API call or a console connection."""

    class Kind(models.TextChoices):
        HEALTH_CHECK = "health_check", "Health check"
        API_CALL = "api_call", "API call"
        CONSOLE = "console", "Console"

    server = models.ForeignKey("servers.ProxmoxServer", on_delete=models.CASCADE, related_name="metrics")
    timestamp = models.DateTimeField(db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    success = models.BooleanField()
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-timestamp"]
        # The 24-hour history of one server is the query that matters.
        indexes = [models.Index(fields=["server", "-timestamp"], name="metric_server_recent")]

    def __str__(self) -> str:
        outcome = "ok" if self.success else "failed"
        return f"{self.server} {self.get_kind_display()} {outcome} at {self.timestamp:%Y-%m-%d %H:%M:%S}"
