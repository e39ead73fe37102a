"""The identity providers' admin: the client secret is write-only, as a Proxmox server's token secret is
(nexus.forms.WriteOnlySecretFormMixin)."""

import pytest
from django.urls import reverse

from accounts.models import OidcProvider

pytestmark = pytest.mark.django_db


def provider_form(**changes):
    form = {
        "name": "Acme SSO",
        "slug": "acme-sso",
        "is_active": "on",
        "issuer": "https://idp.example.com",
        "client_id": "nexus",
        "client_secret": "the client secret",
        "scopes": "openid email profile",
        "groups_claim": "groups",
        "password_login_disabled_domains": "",
        "mfa_amr_values": "mfa",
        "mfa_acr_values": "",
        "group_mappings-TOTAL_FORMS": "0",
        "group_mappings-INITIAL_FORMS": "0",
    }
    form.update(changes)
    return form


def test_a_provider_is_added_with_its_secret_encrypted_and_never_shown(client, platform_admin):
    client.force_login(platform_admin)
    added = client.post(reverse("admin:accounts_oidcprovider_add"), provider_form())
    assert added.status_code == 302, added.content.decode()[:3000]
    provider = OidcProvider.objects.get()
    assert provider.client_secret == "the client secret"
    assert "the client secret" not in provider.client_secret_encrypted
    page = client.get(reverse("admin:accounts_oidcprovider_change", args=[provider.pk])).content.decode()
    assert "the client secret" not in page and provider.client_secret_encrypted not in page


def test_a_new_provider_needs_its_secret(client, platform_admin):
    client.force_login(platform_admin)
    refused = client.post(reverse("admin:accounts_oidcprovider_add"), provider_form(client_secret=""))
    assert refused.status_code == 200 and "A new provider needs its client secret." in refused.content.decode()
    assert not OidcProvider.objects.exists()


def test_a_change_without_a_secret_keeps_the_stored_one_and_a_new_one_replaces_it(client, platform_admin):
    client.force_login(platform_admin)
    client.post(reverse("admin:accounts_oidcprovider_add"), provider_form())
    provider = OidcProvider.objects.get()
    url = reverse("admin:accounts_oidcprovider_change", args=[provider.pk])
    assert client.post(url, provider_form(name="Renamed", client_secret="")).status_code == 302
    provider.refresh_from_db()
    assert (provider.name, provider.client_secret) == ("Renamed", "the client secret")
    client.post(url, provider_form(client_secret="rotated"))
    provider.refresh_from_db()
    assert provider.client_secret == "rotated"
