"""Passkeys and security keys (WebAuthn) through django-otp-webauthn: its ceremonies, fitted to our login.

The relying party is the host the browser uses, and the expected origin that host's own (the Host header has passed
ALLOWED_HOSTS). The authentication ceremony serves both the second step of a login in progress (the pending user's
credentials only) and a login with a passkey alone, and logs in through accounts.services as every login does.
"""

import json

from django.http.request import split_domain_port
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp_webauthn import views
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential

from .selectors import SSO_SESSION, has_authenticator
from .services import login_complete, login_pending, login_second_step_failed, passkey_enrolled

PASSKEY_BACKEND = "django_otp_webauthn.backends.WebAuthnBackend"


def relying_party_id(request) -> str:
    return split_domain_port(request.get_host())[0]


class PasskeyHelper(WebAuthnHelper):
    def get_allowed_origins(self) -> list[str]:
        return [f"{self.request.scheme}://{self.request.get_host()}"]

    def create_credential(self, user, response, parsed_credential, original_data):
        device = super().create_credential(user, response, parsed_credential, original_data)
        device.name = f"Passkey added {timezone.localdate():%Y-%m-%d}"
        return device


class _RegistrationMixin:
    def user_is_mfa_enrolled(self, user) -> bool:
        # A session whose identity provider checked a second factor has passed it, though django-otp knows it not.
        return has_authenticator(user) and not self.request.session.get(SSO_SESSION, {}).get("mfa")


class RegistrationBegin(_RegistrationMixin, views.BeginCredentialRegistrationView):
    pass


class RegistrationComplete(_RegistrationMixin, views.CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        device = WebAuthnCredential.objects.get(user=self.request.user, pk=json.loads(response.content)["id"])
        passkey_enrolled(request=self.request, device=device)
        return response


class _AuthenticationMixin:
    def get_user(self):
        """Whoever is between the two steps of logging in; nobody for a login with a passkey alone."""
        return login_pending(self.request)[0]


class AuthenticationBegin(_AuthenticationMixin, views.BeginCredentialAuthenticationView):
    pass


class AuthenticationComplete(_AuthenticationMixin, views.CompleteCredentialAuthenticationView):
    def handle_exception(self, exc):
        user = self.get_user()
        response = super().handle_exception(exc)
        if user is not None:
            login_second_step_failed(request=self.request, user=user, method="passkey")
        return response

    def complete_auth(self, device):
        self.next_url = (login_pending(self.request)[1] or {}).get("next")
        login_complete(request=self.request, device=device, backend=PASSKEY_BACKEND)

    def get_success_url(self):
        next_url = getattr(self, "next_url", None)
        safe = next_url and url_has_allowed_host_and_scheme(next_url, {self.request.get_host()})
        return next_url if safe else super().get_success_url()
