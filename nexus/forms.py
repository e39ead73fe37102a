"""Form pieces the apps share; this module imports no app of ours."""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models


class AdminChoiceField(forms.ModelChoiceField):
    """A foreign key in the admin whose submitted value that is no valid id shows the field's error.

    The admin's autocomplete widget looks the submitted value up in the database to draw the form again; one
    that is no id of the model (`tenant=abc`) would fail there with a 500 instead.
    """

    def bound_data(self, data, initial):
        try:
            self.to_python(data)
        except ValidationError:
            return None
        return data


# For a ModelAdmin's (or inline's) `formfield_overrides`.
ADMIN_FOREIGN_KEYS = {models.ForeignKey: {"form_class": AdminChoiceField}}


class SecretField(forms.CharField):
    """Write-only: the stored secret is never rendered back into the page; left empty, it stays."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text", "Stored encrypted and never shown again. Leave it empty to keep the current one."
        )
        widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
        super().__init__(strip=True, widget=widget, **kwargs)


class WriteOnlySecretFormMixin:
    """For a ModelForm (the Django admin's) whose model keeps one secret encrypted behind a property
    (`server.token_secret`, `provider.client_secret`): its SecretField, named `secret_field`, is never filled in,
    left empty keeps the stored secret, and a new object must be given one (`secret_missing` says so)."""

    secret_field: str
    secret_missing: str

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get(self.secret_field):
            self.add_error(self.secret_field, self.secret_missing)
        return cleaned

    def save(self, commit=True):
        secret = self.cleaned_data.get(self.secret_field)
        if secret:
            setattr(self.instance, self.secret_field, secret)
        return super().save(commit)
