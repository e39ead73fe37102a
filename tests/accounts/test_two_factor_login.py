"""Logging in with a second factor: the password first, then a TOTP code, a recovery code (or a passkey,
test_passkeys.py); wrong codes count against the login rate limit."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from accounts.models import RecoveryCode
from accounts.services import recovery_codes_generate
from audit.models import AuditEvent
from tests.accounts.two_factor import NOW, code_at, enrol_totp
from tests.conftest import PASSWORD


def password_step(client, username, next_url=""):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD, "next": next_url})


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_an_account_without_a_second_factor_logs_in_with_its_password(client, viewer_a):
    response = password_step(client, "viewer-a")
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert logged_in(client)


def test_the_password_alone_does_not_log_in_an_account_with_a_second_factor(client, viewer_a, clock):
    enrol_totp(viewer_a)
    response = password_step(client, "viewer-a", next_url="/tenants/audit/")
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login-verify")
    assert not logged_in(client)
    assert client.get(reverse("portal:home")).status_code == 302  # still anonymous
    page = client.get(reverse("accounts:login-verify"))
    assert page.status_code == 200 and b"viewer-a" in page.content


def test_the_current_totp_code_completes_the_login_and_marks_the_session_verified(client, viewer_a, clock):
    device = enrol_totp(viewer_a)
    password_step(client, "viewer-a", next_url="/tenants/audit/")
    response = client.post(reverse("accounts:login-verify"), {"code": code_at(device, NOW)})
    assert response.status_code == 302 and response["Location"] == "/tenants/audit/"
    assert logged_in(client)
    assert client.session["otp_device_id"] == device.persistent_id
    assert client.get(reverse("portal:home")).status_code == 200
    assert AuditEvent.objects.filter(action="login", actor=viewer_a, outcome="success").exists()


def test_a_totp_code_is_never_accepted_twice(client, viewer_a, clock):
    device = enrol_totp(viewer_a)
    code = code_at(device, NOW)
    password_step(client, "viewer-a")
    client.post(reverse("accounts:login-verify"), {"code": code})
    client.post(reverse("logout"))
    password_step(client, "viewer-a")
    response = client.post(reverse("accounts:login-verify"), {"code": code})
    assert response.status_code == 400 and not logged_in(client)


@pytest.mark.parametrize("steps, accepted", [(-1, True), (1, True), (-2, False), (2, False)])
def test_codes_one_step_either_side_are_accepted_and_further_ones_not(client, viewer_a, clock, steps, accepted):
    device = enrol_totp(viewer_a)
    password_step(client, "viewer-a")
    client.post(reverse("accounts:login-verify"), {"code": code_at(device, NOW + steps * 30)})
    assert logged_in(client) is accepted


def test_each_recovery_code_logs_in_once_and_its_use_is_audited(client, viewer_a, clock):
    enrol_totp(viewer_a)
    codes = recovery_codes_generate(user=viewer_a, actor=viewer_a, client_ip=None)
    assert len(codes) == 10 and len(set(codes)) == 10
    password_step(client, "viewer-a")
    assert client.post(reverse("accounts:login-verify"), {"code": codes[0].lower()}).status_code == 302
    assert logged_in(client)
    event = AuditEvent.objects.get(action="recovery code used")
    assert event.actor == viewer_a and event.details["remaining"] == 9
    client.post(reverse("logout"))
    password_step(client, "viewer-a")
    assert client.post(reverse("accounts:login-verify"), {"code": codes[0]}).status_code == 400
    assert not logged_in(client)


def test_recovery_codes_are_stored_only_as_digests(viewer_a):
    enrol_totp(viewer_a)
    codes = recovery_codes_generate(user=viewer_a, actor=viewer_a, client_ip=None)
    stored = set(RecoveryCode.objects.values_list("digest", flat=True))
    assert len(stored) == 10
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


def test_wrong_codes_count_against_the_login_rate_limit_and_are_audited(client, viewer_a, clock, settings):
    device = enrol_totp(viewer_a)
    password_step(client, "viewer-a")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(reverse("accounts:login-verify"), {"code": "000000"}).status_code == 400
    assert client.post(reverse("accounts:login-verify"), {"code": "000000"}).status_code == 429
    # Locked: even the right code is refused now, and so is the password.
    assert client.post(reverse("accounts:login-verify"), {"code": code_at(device, NOW)}).status_code == 429
    assert not logged_in(client)
    assert password_step(client, "viewer-a").status_code == 429
    failures = AuditEvent.objects.filter(action="login second step", outcome="failure", actor=viewer_a)
    assert failures.count() == settings.AXES_FAILURE_LIMIT


def test_a_failed_second_step_keeps_no_code_in_the_rate_limits_records(client, viewer_a, clock):
    enrol_totp(viewer_a)
    password_step(client, "viewer-a")
    client.post(reverse("accounts:login-verify"), {"code": "123456"})
    assert "123456" not in AccessAttempt.objects.get(username="viewer-a").post_data


def test_the_second_step_without_a_first_goes_back_to_the_login(client):
    assert client.get(reverse("accounts:login-verify"))["Location"] == reverse("login")


def test_a_session_that_skipped_the_second_step_is_logged_out(client, viewer_a):
    enrol_totp(viewer_a)
    client.force_login(viewer_a)  # as the Django admin's own login form would
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert not logged_in(client)


def test_the_api_refuses_a_session_that_skipped_the_second_step(client, viewer_a):
    enrol_totp(viewer_a)
    client.force_login(viewer_a)
    response = client.get(reverse("api:server-list"))
    assert response.status_code == 403 and response.json()["code"] == "second_factor_required"
