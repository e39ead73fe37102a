from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from nexus import crypto
from tenants.access import RestrictedQuerySet

from . import errors, proxmox
from .validators import denied_networks, validate_ca_pem, validate_fingerprint, validate_host, validate_token_id


class TLSMode(models.TextChoices):
    SYSTEM = "system", "Verify with the system's certificate authorities"
    CA = "ca", "Verify with a given CA certificate"
    FINGERPRINT = "fingerprint", "Pin the certificate's SHA-256 fingerprint"


class ConnectionStatus(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    ONLINE = "online", "Online"
    DEGRADED = "degraded", "Degraded"
    OFFLINE = "offline", "Offline"


def limit_reached(tenant) -> str:
    return f"{tenant} already has its maximum of {tenant.max_servers} servers."


class ProxmoxServer(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="servers")
    name = models.CharField(max_length=200)
    host = models.CharField(max_length=253, validators=[validate_host])
    port = models.PositiveIntegerField(default=8006, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    token_id = models.CharField(
        "API token id", max_length=200, validators=[validate_token_id], help_text="USER@REALM!TOKENID"
    )
    token_secret_encrypted = models.TextField(editable=False)
    tls_mode = models.CharField("TLS", max_length=16, choices=TLSMode.choices, default=TLSMode.FINGERPRINT)
    ca_pem = models.TextField("CA certificate (PEM)", blank=True, validators=[validate_ca_pem])
    fingerprint = models.CharField(
        "certificate fingerprint", max_length=95, blank=True, validators=[validate_fingerprint]
    )
    use_tailscale = models.BooleanField(default=False)
    tailscale_hostname = models.CharField(max_length=253, blank=True, validators=[validate_host])
    connection_timeout = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(120)], help_text="Seconds."
    )
    is_active = models.BooleanField(default=True)

    connection_status = models.CharField(
        max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.UNKNOWN, editable=False
    )
    last_health_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    health_check_error = models.TextField(blank=True, editable=False)
    avg_response_time_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    success_rate = models.FloatField(null=True, blank=True, editable=False, help_text="0-100 over the last 24 hours.")
    # Health checks (metrics.services): the timeout the server's own response times earned, the failures in a row
    # (offline after HEALTH_OFFLINE_AFTER of them), and the lease of the worker checking it now.
    learned_timeout_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveSmallIntegerField(default=0, editable=False)
    health_lease = models.CharField(max_length=64, blank=True, editable=False)
    health_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    console_probe = models.BooleanField(
        "console probe",
        default=False,
        help_text="Each health check also opens the console of one guest (vncproxy, WebSocket, RFB greeting) and "
        "records how long that took.",
    )
    console_probe_vmid = models.PositiveIntegerField(
        "console probe guest", null=True, blank=True, help_text="The VMID of the running guest the probe opens."
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    # tenants.access: the server belongs to its tenant, and single servers are granted to users.
    tenant_path = "tenant"
    grant_path = ""

    class Meta:
        verbose_name = "Proxmox server"
        ordering = ["tenant__name", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="server_name_unique_per_tenant")]
        permissions = [
            ("power_guests", "Can start, stop and reset guests"),
            ("open_console", "Can open guest consoles"),
            ("explore_api", "Can read the server's Proxmox API in the explorer"),
            ("read_node_logs", "Can read the server's node logs in the explorer"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_additional_data(self) -> dict:
        """What django-auditlog keeps with each change, so the tenant's audit log finds it."""
        return {"tenant": self.tenant_id}

    @property
    def token_secret(self) -> str:
        return crypto.decrypt(self.token_secret_encrypted)

    @token_secret.setter
    def token_secret(self, plaintext: str) -> None:
        self.token_secret_encrypted = crypto.encrypt(plaintext)

    @property
    def address(self) -> str:
        return self.tailscale_hostname if self.use_tailscale else self.host

    def connection(self) -> proxmox.Connection:
        """How to reach this server; an ApplicationError when it must not or cannot be queried."""
        return proxmox.Connection(**self.connection_settings())

    def connection_settings(self, token_secret: str | None = None) -> dict:
        """The fields of its proxmox.Connection (a connection test takes them without a pin); `token_secret` for
        settings not saved yet. An ApplicationError when the server must not or cannot be queried."""
        if not self.is_active:
            raise errors.server_disabled(self)
        if token_secret is None:
            try:
                token_secret = self.token_secret
            except crypto.DecryptionError:
                raise errors.credential_unreadable(self) from None
        return {
            "host": self.address,
            "port": self.port,
            "token_id": self.token_id,
            "token_secret": token_secret,
            "tls_mode": self.tls_mode,
            "ca_pem": self.ca_pem,
            "fingerprint": self.fingerprint,
            "timeout": float(self.connection_timeout),
            "denied_networks": denied_networks(),
        }

    def clean(self) -> None:
        errors = {}
        if self.fingerprint:
            try:
                self.fingerprint = proxmox.normalise_fingerprint(self.fingerprint)
            except proxmox.ConfigurationError:
                pass  # validate_fingerprint has reported it
        if self.tls_mode == TLSMode.FINGERPRINT and not self.fingerprint:
            errors["fingerprint"] = "Give the fingerprint to pin (Proxmox shows it under Node > Certificates)."
        if self.tls_mode == TLSMode.CA and not self.ca_pem.strip():
            errors["ca_pem"] = "Paste the CA certificate in PEM form to verify against."
        if self.console_probe and self.console_probe_vmid is None:
            errors["console_probe_vmid"] = "Give the VMID of the guest whose console the probe opens."
        if self.use_tailscale and not self.tailscale_hostname:
            errors["tailscale_hostname"] = "Give the Tailscale host name to connect through."
        if self.tenant_id and self._adding_beyond_tenant_limit():
            errors["tenant"] = limit_reached(self.tenant)
        if errors:
            raise ValidationError(errors)

    def _adding_beyond_tenant_limit(self) -> bool:
        if self.pk and ProxmoxServer.objects.filter(pk=self.pk, tenant_id=self.tenant_id).exists():
            return False  # already counted
        others = ProxmoxServer.objects.filter(tenant_id=self.tenant_id).exclude(pk=self.pk)
        return others.count() >= self.tenant.max_servers
