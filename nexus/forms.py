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
