"""Single sign-on with OpenID Connect, against a real provider on loopback (nexus/idp.mjs, `oidc-provider`)."""

import re

import pytest
import requests
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import GroupMapping, OidcIdentity
from audit.models import AuditEvent
from tenants.models import Membership
from tenants.roles import Role
from tests.accounts.idp import sso_login
from tests.accounts.two_factor import enrol_totp
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def logged_in_as(client):
    return get_user_model().objects.filter(pk=client.session.get("_auth_user_id")).first()


def test_a_linked_account_logs_in_by_its_subject(client, idp, provider, viewer_a):
    idp.person("u-1001", email="someone-else@example.com", email_verified=True)
    OidcIdentity.objects.create(provider=provider, subject="u-1001", user=viewer_a)
    response = sso_login(client, provider, "u-1001")
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert logged_in_as(client) == viewer_a


def test_an_unknown_subject_is_refused_when_accounts_are_not_created(client, idp, provider, viewer_a):
    idp.person("u-2", email="viewer-a@example.com", email_verified=True)  # viewer-a's address, but no match allowed
    response = sso_login(client, provider, "u-2")
    assert response["Location"] == reverse("login") and logged_in_as(client) is None
    assert AuditEvent.objects.filter(action="sso login", outcome="failure").exists()


def test_the_first_login_creates_an_account_where_allowed(client, idp, provider):
    provider.create_users = True
    provider.save()
    idp.person("u-3", email="newcomer@acme.example", email_verified=True, preferred_username="newcomer")
    sso_login(client, provider, "u-3")
    user = logged_in_as(client)
    assert user.username == "newcomer" and user.email == "newcomer@acme.example" and not user.has_usable_password()
    assert OidcIdentity.objects.get(provider=provider, subject="u-3").user == user


def test_a_verified_email_links_the_existing_account_only_when_the_operator_allows_it(client, idp, provider, viewer_a):
    provider.match_verified_email = True
    provider.save()
    idp.person("u-4", email="viewer-a@example.com", email_verified=False)
    sso_login(client, provider, "u-4")
    assert logged_in_as(client) is None  # unverified: no link
    idp.person("u-4", email="viewer-a@example.com", email_verified=True)
    sso_login(client, provider, "u-4")
    assert logged_in_as(client) == viewer_a
    assert OidcIdentity.objects.get(subject="u-4").user == viewer_a


def test_memberships_follow_the_group_claims_at_each_login(client, idp, provider, tenant_a, tenant_b, admin_a):
    provider.create_users = True
    provider.save()
    GroupMapping.objects.create(provider=provider, group="it-staff", tenant=tenant_a, role=Role.MANAGER)
    GroupMapping.objects.create(provider=provider, group="helpdesk", tenant=tenant_a, role=Role.VIEWER)
    GroupMapping.objects.create(provider=provider, group="school", tenant=tenant_b, role=Role.VIEWER)

    def roles_after_login(groups):
        idp.person("u-5", preferred_username="grace", email="grace@acme.example", groups=groups)
        sso_login(client, provider, "u-5")
        client.post(reverse("logout"))
        user = get_user_model().objects.get(username="grace")
        return {m.tenant.slug: m.role for m in Membership.objects.filter(user=user)}

    assert roles_after_login(["it-staff", "school"]) == {"tenant-a": "manager", "tenant-b": "viewer"}  # added
    assert roles_after_login(["helpdesk", "school"]) == {"tenant-a": "viewer", "tenant-b": "viewer"}  # changed
    assert roles_after_login(["helpdesk"]) == {"tenant-a": "viewer"}  # removed
    assert roles_after_login([]) == {}
    actions = set(AuditEvent.objects.filter(action__startswith="sso membership").values_list("action", flat=True))
    assert actions == {"sso membership added", "sso membership changed", "sso membership removed"}


def test_memberships_made_by_hand_are_left_alone(client, idp, provider, tenant_a, viewer_a):
    OidcIdentity.objects.create(provider=provider, subject="u-6", user=viewer_a)
    GroupMapping.objects.create(provider=provider, group="it-staff", tenant=tenant_a, role=Role.MANAGER)
    idp.person("u-6", groups=[])
    sso_login(client, provider, "u-6")
    assert Membership.objects.get(user=viewer_a).role == Role.VIEWER


def test_logging_out_logs_out_at_the_provider_too(client, idp, provider, viewer_a):
    OidcIdentity.objects.create(provider=provider, subject="u-7", user=viewer_a)
    idp.person("u-7")
    sso_login(client, provider, "u-7")
    response = client.post(reverse("logout"))
    assert logged_in_as(client) is None
    location = response["Location"]
    assert location.startswith(idp.issuer) and "id_token_hint=" in location
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Faccounts%2Flogin%2F" in location
    # The provider asks to confirm, and then sends the browser back to our login.
    browser = requests.Session()
    confirm = browser.get(location, timeout=10)
    assert confirm.status_code == 200
    form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', confirm.text))
    action = re.search(r'action="([^"]+)"', confirm.text).group(1)
    done = browser.post(
        requests.compat.urljoin(confirm.url, action), data={**form, "logout": "yes"}, allow_redirects=False
    )
    assert done.headers["Location"].startswith("http://testserver/accounts/login/")


def test_a_provider_that_is_down_is_a_clear_error_and_passwords_still_work(client, idp, provider, viewer_a):
    idp.stop()
    response = client.get(reverse("accounts:sso-login", args=[provider.slug]), follow=True)
    assert b"Acme SSO cannot be reached" in response.content
    client.post(reverse("login"), {"username": "viewer-a", "password": PASSWORD})
    assert logged_in_as(client) == viewer_a


@pytest.mark.parametrize("forgery", ["signature", "audience"])
def test_an_id_token_with_a_bad_signature_or_another_audience_is_refused(client, idp, provider, viewer_a, forgery):
    OidcIdentity.objects.create(provider=provider, subject="u-8", user=viewer_a)
    idp.person("u-8")
    idp.tamper(forgery)
    response = sso_login(client, provider, "u-8")
    assert response["Location"] == reverse("login") and logged_in_as(client) is None
    event = AuditEvent.objects.get(action="sso login", outcome="failure")
    assert "refused" in event.details["reason"]


def test_password_login_is_off_for_the_providers_domain(client, provider, viewer_a):
    provider.password_login_disabled_domains = "example.com"
    provider.save()
    response = client.post(reverse("login"), {"username": "viewer-a", "password": PASSWORD})
    assert response.status_code == 200 and b"log in with Acme SSO" in response.content
    assert logged_in_as(client) is None


def test_an_sso_login_without_a_second_factor_from_the_provider_asks_for_ours(client, idp, provider, viewer_a):
    enrol_totp(viewer_a)
    OidcIdentity.objects.create(provider=provider, subject="u-9", user=viewer_a)
    idp.person("u-9", amr=["pwd"])
    response = sso_login(client, provider, "u-9")
    assert response["Location"] == reverse("accounts:login-verify") and logged_in_as(client) is None


def test_an_sso_login_whose_provider_checked_a_second_factor_counts_as_two_factor(client, idp, provider, viewer_a):
    enrol_totp(viewer_a)
    OidcIdentity.objects.create(provider=provider, subject="u-10", user=viewer_a)
    idp.person("u-10", amr=["pwd", "otp"])
    sso_login(client, provider, "u-10")
    assert logged_in_as(client) == viewer_a
    assert client.get(reverse("portal:home")).status_code == 200
