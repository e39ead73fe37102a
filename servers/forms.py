"""The portal's server forms: thin adapters; what makes a server valid is the model's and the service's."""

from django import forms

from nexus.forms import SecretField

from .models import ProxmoxServer
from .services import EDITABLE_FIELDS
from .validators import validate_token_secret


class TokenSecretField(SecretField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", "API token secret")
        super().__init__(validators=[validate_token_secret], **kwargs)


class ServerForm(forms.ModelForm):
    token_secret = TokenSecretField()

    class Meta:
        model = ProxmoxServer
        fields = EDITABLE_FIELDS
        widgets = {
            "fingerprint": forms.TextInput(attrs={"class": "mono", "spellcheck": "false", "autocomplete": "off"}),
            "ca_pem": forms.Textarea(attrs={"class": "mono", "rows": 4, "spellcheck": "false"}),
            "host": forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
            "token_id": forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
        }
        labels = {
            "is_active": "Active",
            "use_tailscale": "Connect through Tailscale",
            "tls_mode": "Verify the server's certificate",
            "connection_timeout": "Timeout",
        }
        help_texts = {
            "host": "The host name or IP address of a node (or of the cluster's address), without https:// or a port.",
            "fingerprint": "SHA-256 of the node's certificate, as Proxmox shows it under node > System > "
            "Certificates. Test connection shows the one the server presents.",
            "ca_pem": "Only for “Verify with a given CA certificate”.",
            "is_active": "An inactive server is never queried: no health checks, guests or consoles.",
        }

    def __init__(self, *args, tenants=None, **kwargs):
        super().__init__(*args, **kwargs)
        adding = self.instance.pk is None
        if adding:
            self.fields["token_secret"].required = True
            self.fields["token_secret"].help_text = "Stored encrypted and never shown again."
        if adding and tenants is not None:
            self.fields["tenant"] = forms.ModelChoiceField(queryset=tenants, empty_label=None, to_field_name="slug")
            self.order_fields(["tenant"])

    def clean(self):
        cleaned = super().clean()
        if "tenant" in cleaned:
            self.instance.tenant = cleaned["tenant"]  # so the model's checks (the tenant's limit) know it
        return cleaned

    def validate_unique(self):
        pass  # names are the service's to check, in the tenant the server goes to (servers.services.server_check)

    def server_fields(self) -> tuple[dict, str | None]:
        """The fields for the service, and the secret apart (None: keep the stored one)."""
        return {name: self.cleaned_data[name] for name in EDITABLE_FIELDS}, self.cleaned_data["token_secret"] or None


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text="A header row, then a row per server; UTF-8, comma or semicolon."
    )
    probe = forms.BooleanField(
        label="Test each server's connection",
        required=False,
        initial=True,
        help_text="All at once; each within its own timeout.",
    )

    def __init__(self, *args, tenants=None, **kwargs):
        super().__init__(*args, **kwargs)
        if tenants is not None:
            self.fields["tenant"] = forms.ModelChoiceField(queryset=tenants, empty_label=None, to_field_name="slug")
            self.order_fields(["tenant"])
