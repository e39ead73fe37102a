from django import forms
from django.contrib import admin, messages
from django.db import transaction
from guardian.admin import GuardedModelAdmin

from nexus.errors import ApplicationError
from nexus.forms import ADMIN_FOREIGN_KEYS, WriteOnlySecretFormMixin

from . import proxmox
from .forms import TokenSecretField
from .models import ProxmoxServer
from .services import CONNECTION_FIELDS, server_connection_announce, server_presented_certificate, server_token_report


class ProxmoxServerAdminForm(WriteOnlySecretFormMixin, forms.ModelForm):
    token_secret = TokenSecretField()
    secret_field = "token_secret"
    secret_missing = "A new server needs its API token secret."

    class Meta:
        model = ProxmoxServer
        fields = "__all__"


@admin.register(ProxmoxServer)
class ProxmoxServerAdmin(GuardedModelAdmin):
    form = ProxmoxServerAdminForm
    formfield_overrides = ADMIN_FOREIGN_KEYS
    list_display = [
        "name",
        "tenant",
        "host",
        "port",
        "tls_mode",
        "is_active",
        "connection_status",
        "last_health_check_at",
    ]
    list_filter = ["tenant", "is_active", "connection_status", "tls_mode", "use_tailscale"]
    search_fields = ["name", "host", "tailscale_hostname", "token_id", "tenant__name"]
    autocomplete_fields = ["tenant"]
    readonly_fields = [
        "connection_status",
        "last_health_check_at",
        "health_check_error",
        "avg_response_time_ms",
        "success_rate",
        "learned_timeout_ms",
        "consecutive_failures",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "host", "port", "is_active"]}),
        ("API token", {"fields": ["token_id", "token_secret"]}),
        ("TLS", {"fields": ["tls_mode", "fingerprint", "ca_pem"]}),
        ("Network", {"fields": ["use_tailscale", "tailscale_hostname", "connection_timeout"]}),
        ("Health", {"fields": [*readonly_fields[:7], "console_probe", "console_probe_vmid"]}),
        ("Record", {"fields": readonly_fields[7:]}),
    ]

    actions = ["show_certificate", "check_token"]

    def _report_each(self, request, queryset, check) -> None:
        """One message per server: `check(server)` gives (text, level); a Proxmox failure is an error message."""
        for server in queryset:
            try:
                text, level = check(server)
            except (proxmox.ProxmoxError, ApplicationError) as error:
                text, level = error.message, messages.ERROR
            self.message_user(request, f"{server}: {text}", level)

    @admin.action(description="Show the certificate fingerprint the server presents")
    def show_certificate(self, request, queryset):
        verdict = {None: "not pinned", True: "matches the pinned one", False: "DIFFERS from the pinned one"}

        def check(server):
            presented = server_presented_certificate(server=server)
            level = messages.WARNING if presented.matches_pin is False else messages.INFO
            return (
                f"presents {presented.fingerprint} ({verdict[presented.matches_pin]}). "
                "Compare it with Proxmox's Node > Certificates before pinning.",
                level,
            )

        self._report_each(request, queryset, check)

    @admin.action(description="Check the API token's privileges")
    def check_token(self, request, queryset):
        def check(server):
            report = server_token_report(server=server)
            return report.summary, messages.SUCCESS if report.ok else messages.WARNING

        self._report_each(request, queryset, check)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change or form.cleaned_data.get("token_secret") or set(form.changed_data) & set(CONNECTION_FIELDS):
            transaction.on_commit(lambda: server_connection_announce(server_id=obj.pk))
