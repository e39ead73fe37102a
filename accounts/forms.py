from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils import timezone

from tenants.roles import Role

from .models import OidcProvider
from .selectors import sso_provider_for_domain

EXPIRY_CHOICES = [("", "Never"), ("7", "In 7 days"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. the script that uses it.")
    expires_in = forms.TypedChoiceField(
        label="Expires", choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False
    )

    def expires_at(self):
        days = self.cleaned_data["expires_in"]
        return None if days is None else timezone.now() + timedelta(days=days)


class ResetForm(PasswordResetForm):
    """Django's, but invited people who never set a password get a link too (the same as their invitation), and
    the accounts of a domain that logs in through an identity provider get none (platform admins excepted, as at
    the login: they repair a broken provider)."""

    def get_users(self, email):
        email_field = get_user_model().get_email_field_name()
        users = get_user_model()._default_manager.filter(**{f"{email_field}__iexact": email, "is_active": True})
        if sso_provider_for_domain(email) is not None:
            users = users.filter(is_superuser=True)
        return (user for user in users if user.email.lower() == email.lower())


class LoginForm(AuthenticationForm):
    """Django's, refusing the password of an account whose domain logs in through an identity provider."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your user name and password didn't match. Please try again.",
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        provider = None if user.is_superuser else sso_provider_for_domain(user.email)
        if provider is not None:
            raise forms.ValidationError(
                f"Accounts of {user.email.rpartition('@')[2]} log in with {provider.name}: use its button below.",
                code="sso_required",
            )


class SecondStepForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=40,
        help_text="The 6-digit code your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}),
    )


class TotpConfirmForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )
    name = forms.CharField(
        label="Name",
        max_length=64,
        initial="Authenticator app",
        help_text="To recognise it in your list, e.g. “Phone”.",
    )


class DeviceRenameForm(forms.Form):
    name = forms.CharField(label="Name", max_length=64)


class GroupMappingForm(forms.Form):
    provider = forms.ModelChoiceField(queryset=OidcProvider.objects.all(), empty_label=None)
    group = forms.CharField(max_length=255, help_text="As the provider's group claim names it, e.g. it-staff.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)
