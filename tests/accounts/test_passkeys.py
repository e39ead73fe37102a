"""Passkeys and security keys (django-otp-webauthn), with a software authenticator (fido2)."""

import json

from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from audit.models import AuditEvent
from tests.accounts.authenticator import SoftwareAuthenticator, b64
from tests.conftest import PASSWORD


def post_json(client, name, body=None):
    return client.post(reverse(name), json.dumps(body or {}), content_type="application/json")


def enrol_passkey(client, user) -> SoftwareAuthenticator:
    client.force_login(user)
    authenticator = SoftwareAuthenticator()
    options = post_json(client, "accounts:passkey-register-begin").json()
    done = post_json(client, "accounts:passkey-register-complete", authenticator.register(options))
    assert done.status_code == 200, done.content
    client.logout()
    return authenticator


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_a_passkey_is_registered_named_and_audited(client, viewer_a):
    enrol_passkey(client, viewer_a)
    credential = WebAuthnCredential.objects.get(user=viewer_a)
    assert credential.confirmed and credential.name.startswith("Passkey added")
    assert AuditEvent.objects.filter(action="two-factor enrolled", actor=viewer_a, details__kind="passkey").exists()


def test_a_passkey_is_the_second_step_of_a_password_login(client, viewer_a):
    authenticator = enrol_passkey(client, viewer_a)
    client.post(reverse("login"), {"username": "viewer-a", "password": PASSWORD, "next": "/tenants/audit/"})
    assert not logged_in(client)
    options = post_json(client, "accounts:passkey-login-begin").json()
    assert [c["id"] for c in options["allowCredentials"]] == [b64(authenticator.credential_id)]
    done = post_json(client, "accounts:passkey-login-complete", authenticator.sign_in(options))
    assert done.status_code == 200 and done.json()["redirect_url"] == "/tenants/audit/"
    assert logged_in(client) and client.get(reverse("portal:home")).status_code == 200


def test_a_passkey_alone_logs_in(client, viewer_a):
    authenticator = enrol_passkey(client, viewer_a)
    options = post_json(client, "accounts:passkey-login-begin").json()
    done = post_json(client, "accounts:passkey-login-complete", authenticator.sign_in(options))
    assert done.status_code == 200
    assert client.session["_auth_user_id"] == str(viewer_a.pk)


def test_another_users_passkey_cannot_be_the_second_step(client, viewer_a, manager_a):
    enrol_passkey(client, viewer_a)
    intruder = enrol_passkey(client, manager_a)
    client.post(reverse("login"), {"username": "viewer-a", "password": PASSWORD})
    options = post_json(client, "accounts:passkey-login-begin").json()
    refused = post_json(client, "accounts:passkey-login-complete", intruder.sign_in(options))
    assert refused.status_code == 403 and not logged_in(client)
    assert AuditEvent.objects.filter(action="login second step", outcome="failure", details__method="passkey").exists()
