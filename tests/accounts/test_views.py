"""Account pages: API tokens, password change, password reset by e-mail, the operators' users page."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import ApiToken
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body)[1]


def test_the_tokens_page_shows_a_new_key_once(client, viewer_a):
    client.force_login(viewer_a)
    created = client.post(reverse("accounts:tokens"), {"name": "nightly", "expires_in": "30"})
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    key = created.context["new_key"]
    assert key in created.content.decode()
    listed = client.get(reverse("accounts:tokens")).content.decode()
    assert "nightly" in listed and key not in listed and key[:8] in listed


def test_revoking_on_the_page(client, viewer_a):
    client.force_login(viewer_a)
    client.post(reverse("accounts:tokens"), {"name": "nightly"})
    token = ApiToken.objects.get()
    response = client.post(reverse("accounts:token-revoke", args=[token.pk]), follow=True)
    assert "Revoked the token nightly" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_changing_the_password_keeps_this_login_and_ends_the_others(client, viewer_a):
    from django.test import Client

    from audit.models import AuditEvent

    phone = Client()
    phone.force_login(viewer_a)
    client.force_login(viewer_a)
    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your password was changed." in response.content.decode()
    viewer_a.refresh_from_db()
    assert viewer_a.check_password(NEW_PASSWORD)
    assert client.get(reverse("portal:home")).status_code == 200
    assert phone.get(reverse("portal:home")).url.startswith(reverse("login"))
    assert AuditEvent.objects.filter(action="password changed", actor=viewer_a).exists()


def test_guessing_the_current_password_is_rate_limited(client, viewer_a):
    client.force_login(viewer_a)
    wrong = {"old_password": "guess", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    statuses = [client.post(reverse("accounts:password-change"), wrong).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    right = {**wrong, "old_password": PASSWORD}
    assert client.post(reverse("accounts:password-change"), right).status_code == 429


def test_a_reset_link_sets_a_new_password_once_and_ends_every_login(client, viewer_a):
    from django.test import Client

    laptop = Client()
    laptop.force_login(viewer_a)
    response = client.post(reverse("accounts:password-reset"), {"email": "VIEWER-A@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["viewer-a@example.com"]
    link = link_in(mail.outbox[0])
    form_url = client.get(link).url  # Django moves the token out of the URL into the session first
    passwords = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert client.post(form_url, passwords).url == reverse("accounts:password-reset-done")
    viewer_a.refresh_from_db()
    assert viewer_a.check_password(NEW_PASSWORD)
    again = client.get(link, follow=True)
    assert "This link no longer works" in again.content.decode()
    assert laptop.get(reverse("portal:home")).url.startswith(reverse("login"))


def test_a_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client, viewer_a):
    response = client.post(reverse("accounts:password-reset"), {"email": "nobody@example.com"})
    assert response.url == reverse("accounts:password-reset-sent")
    assert mail.outbox == []


@pytest.fixture
def sso_only(db):
    """A provider through which accounts of example.com must log in."""
    from accounts.models import OidcProvider

    provider = OidcProvider(name="Acme SSO", slug="acme-sso", issuer="http://127.0.0.1:9", client_id="nexus")
    provider.client_secret = "secret"
    provider.password_login_disabled_domains = "example.com"
    provider.save()
    return provider


def test_a_reset_is_refused_with_a_reason_where_the_domain_logs_in_with_a_provider(client, viewer_a, sso_only):
    response = client.post(reverse("accounts:password-reset"), {"email": "viewer-a@example.com"})
    assert response.status_code == 400
    assert "Accounts of example.com log in with Acme SSO" in response.content.decode()
    assert mail.outbox == []


def test_a_platform_admin_of_such_a_domain_still_gets_a_reset_link(client, platform_admin, viewer_a, sso_only):
    platform_admin.email = "root@example.com"
    platform_admin.save()
    response = client.post(reverse("accounts:password-reset"), {"email": "root@example.com"})
    assert response.status_code == 400
    assert [message.to for message in mail.outbox] == [["root@example.com"]]


def test_reset_requests_are_rate_limited(client, viewer_a):
    statuses = [
        client.post(reverse("accounts:password-reset"), {"email": "viewer-a@example.com"}).status_code for _ in range(4)
    ]
    assert statuses == [302, 302, 302, 429]
    assert len(mail.outbox) == 3


def test_operators_delete_users_on_their_page(client, platform_admin):
    doomed = make_user("doomed")
    client.force_login(platform_admin)
    page = client.get(reverse("accounts:users")).content.decode()
    assert "doomed" in page
    response = client.post(reverse("accounts:user-delete", args=[doomed.pk]), follow=True)
    assert "Deleted the account doomed" in response.content.decode()
    assert not type(doomed).objects.filter(pk=doomed.pk).exists()


def test_the_login_page_offers_a_button_per_active_provider(client, db):
    from accounts.models import OidcProvider

    for name, active in (("Acme SSO", True), ("Old SSO", False), ("School SSO", True)):
        provider = OidcProvider(name=name, slug=name.lower().replace(" ", "-"), issuer="http://127.0.0.1:9")
        provider.client_id, provider.client_secret, provider.is_active = "nexus", "secret", active
        provider.save()
    page = client.get(reverse("login")).content.decode()
    assert "Log in with Acme SSO" in page and "Log in with School SSO" in page and "Old SSO" not in page
    assert reverse("accounts:sso-login", args=["acme-sso"]) in page


def test_an_invitation_to_an_address_that_logs_in_with_a_provider_leads_to_the_login_page(tenant_a, admin_a, sso_only):
    from tenants.services import member_add

    member_add(tenant=tenant_a, identifier="new.person@example.com", role="viewer", actor=admin_a, base_url="http://x")
    body = mail.outbox[-1].body
    assert "Log in with Acme SSO here:\n\nhttp://x/accounts/login/" in body and "password" not in body
