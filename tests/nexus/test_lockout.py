"""The login rate limit: guessing at one account stays limited whatever other accounts do, and a shared address
is not locked out of its own correct passwords by a few failures against made-up names."""

from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import PASSWORD

SCHOOL_NAT = "192.0.2.9"


def login(client, username, password, ip="203.0.113.7"):
    client.logout()
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_repeated_failures_for_one_user_lock_it_out_even_with_the_right_password(client, manager_a, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        login(client, "manager-a", "wrong", ip=f"198.51.100.{attempt}")
    response = login(client, "manager-a", PASSWORD, ip="198.51.100.200")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert AuditEvent.objects.filter(outcome="denied").exists()


def test_logging_in_to_ones_own_account_buys_no_guesses_at_another(client, manager_a, viewer_a, settings):
    guesses = 0
    for _ in range(4):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            if login(client, "manager-a", "wrong").status_code == 429:
                break
            guesses += 1
        assert login(client, "viewer-a", PASSWORD).status_code == 302  # the guesser's own account, same address
    assert guesses == settings.AXES_FAILURE_LIMIT - 1  # the last failure is answered 429 already
    assert login(client, "manager-a", PASSWORD).status_code == 429


def test_a_success_clears_only_that_users_failures(client, manager_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, "manager-a", "wrong")
    assert login(client, "manager-a", PASSWORD).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, "manager-a", "wrong")
    assert login(client, "manager-a", PASSWORD).status_code == 302


def test_failures_against_a_made_up_name_do_not_lock_out_others_behind_the_same_address(client, viewer_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT * 2):
        login(client, "no-such-user", "wrong", ip=SCHOOL_NAT)
    assert login(client, "viewer-a", PASSWORD, ip=SCHOOL_NAT).status_code == 302


def test_an_address_spraying_guesses_over_many_names_is_locked_out(client, viewer_a, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 12
    for attempt in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT):
        login(client, f"name-{attempt}", "wrong", ip=SCHOOL_NAT)
    assert login(client, "viewer-a", PASSWORD, ip=SCHOOL_NAT).status_code == 429
    assert login(client, "viewer-a", PASSWORD, ip="192.0.2.10").status_code == 302


def test_the_admin_logs_in_through_the_portal_login_and_so_its_rate_limit(client, platform_admin):
    # The admin's own login form would skip the second step: it only sends people to the portal's.
    response = client.post(reverse("admin:login"), {"username": "platform-admin", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
