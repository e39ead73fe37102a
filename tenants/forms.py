from django import forms

from . import grants
from .models import Tenant
from .roles import POWER_ACTIONS, Role


class MemberAddForm(forms.Form):
    user = forms.CharField(
        label="User name or e-mail address",
        max_length=254,
        help_text="An existing account, or a new person's e-mail address: they get a link to choose a password.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class GrantForm(forms.Form):
    user = forms.CharField(label="User name or e-mail address", max_length=254, help_text="A member or anyone else.")
    target = forms.ChoiceField(label="On")
    permission = forms.ChoiceField(label="May")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        kinds = grants.kinds()
        self.fields["target"].choices = [
            (f"{kind.name}:{obj.pk}", f"{kind.name} {obj}") for kind in kinds for obj in kind.objects(tenant)
        ]
        names = dict.fromkeys(name for kind in kinds for name in kind.permissions)
        self.fields["permission"].choices = [(name, name) for name in names]


class TenantSettingsForm(forms.ModelForm):
    logo_url = forms.URLField(
        label="Logo URL",
        required=False,
        assume_scheme="https",
        help_text="An image shown beside the tenant's name in the header (a square one looks best).",
    )
    allowed_power_actions = forms.MultipleChoiceField(
        choices=[(action, action) for action in POWER_ACTIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What members may do to their guests' power.",
    )

    class Meta:
        model = Tenant
        fields = [
            "name",
            "description",
            "logo_url",
            "console_enabled",
            "console_idle_timeout",
            "console_max_duration",
            "allowed_power_actions",
            "max_servers",
            "require_two_factor",
        ]
        labels = {"require_two_factor": "Require two-factor authentication for members"}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, platform_admin: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not platform_admin:
            self.fields["max_servers"].disabled = True
            self.fields["max_servers"].help_text = "Set by the platform's operators."


class AuditFilterForm(forms.Form):
    """The audit log's filters, for the page and the API alike (dates as 2026-01-31 or ISO 8601 times)."""

    tenant = forms.SlugField(required=False)
    actor = forms.CharField(required=False, max_length=150, label="User")
    action = forms.CharField(required=False, max_length=64)
    target = forms.CharField(required=False, max_length=255)
    since = forms.DateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def filters(self):
        from .timeline import Filters

        return Filters(**{name: value for name, value in self.cleaned_data.items() if value})
