from django.db import models


class ConnectionMetric(models.Model):
    """One attempt to reach a Proxmox server: a health check, an API call or a console connection."""

    class Kind(models.TextChoices):
        HEALTH_CHECK = "health_check", "Health check"
        API_CALL = "api_call", "API call"
        CONSOLE = "console", "Console"
        # The console path of one chosen guest (vncproxy, WebSocket upgrade, RFB greeting): "time to console".
        CONSOLE_PROBE = "console_probe", "Console probe"
        GUEST_LIST = "guest_list", "Guest list"
        POWER = "power", "Power action"

    server = models.ForeignKey("servers.ProxmoxServer", on_delete=models.CASCADE, related_name="metrics")
    timestamp = models.DateTimeField(db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    success = models.BooleanField()
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            # One server's recent history: its learned timeout and the hour a check falls in.
            models.Index(fields=["server", "-timestamp"], name="metric_server_recent"),
            # Retention deletes the oldest rows in batches.
            models.Index(fields=["timestamp"], name="metric_timestamp"),
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.success else "failed"
        return f"{self.server} {self.get_kind_display()} {outcome} at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class HourlyRollup(models.Model):
    """One server's health checks of one hour, summed up as they are written: charts read 24 of these per server
    instead of some 1440 metrics, however many months of metrics are kept."""

    server = models.ForeignKey("servers.ProxmoxServer", on_delete=models.CASCADE, related_name="hourly_rollups")
    hour = models.DateTimeField(help_text="The start of the hour (UTC).")
    checks = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)
    sum_ms = models.BigIntegerField(default=0, help_text="Response times of the successful checks, summed.")
    avg_ms = models.PositiveIntegerField(null=True, blank=True)
    p95_ms = models.PositiveIntegerField(null=True, blank=True)
    probe_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Average successful console probe.")

    class Meta:
        ordering = ["server", "hour"]
        constraints = [models.UniqueConstraint(fields=["server", "hour"], name="rollup_server_hour")]

    def __str__(self) -> str:
        return f"{self.server} {self.hour:%Y-%m-%d %H}:00 {self.successes}/{self.checks}"
