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
    """A grant of a whole object (a server), or, with a part named (a guest's VM id), of that part of it."""

    user = forms.CharField(label="User name or e-mail address", max_length=254, help_text="A member or anyone else.")
    target = forms.ChoiceField(label="On")
    part = forms.IntegerField(required=False, min_value=0)
    permission = forms.ChoiceField(label="May")

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        kinds = grants.kinds()
        self.parts = {kind.part_of: kind for kind in kinds if kind.part_of}
        self.fields["target"].choices = [
            (f"{kind.name}:{obj.pk}", f"{kind.name} {obj}")
            for kind in kinds
            if not kind.part_of
            for obj in kind.objects(tenant)
        ]
        part = self.fields["part"]
        part.label = " or ".join(kind.part_label for kind in self.parts.values())
        part.help_text = " ".join(kind.part_help for kind in self.parts.values())
        names = dict.fromkeys(name for kind in kinds for name in kind.permissions)
        self.fields["permission"].choices = [(name, name) for name in names]

    def clean(self):
        cleaned = super().clean()
        target, part = cleaned.get("target"), cleaned.get("part")
        if target and part is not None:
            kind, object_id = target.split(":", 1)
            if kind not in self.parts:
                raise forms.ValidationError(f"A {kind} is granted whole.")
            cleaned["target"] = f"{self.parts[kind].name}:{object_id}/{part}"
        return cleaned

    def grant(self) -> tuple[str, str]:
        """The kind and object id of what is granted: ("server", "12"), ("guest", "12/100")."""
        kind, object_id = self.cleaned_data["target"].split(":", 1)
        return kind, object_id


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
        labels = {"require_two_factor": "Require two-factor authentication"}
        help_texts = {"require_two_factor": "Of members, and of whoever holds one of its servers or guests alone."}
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
