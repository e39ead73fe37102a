"""The demo: erin, the customer, holds her own guests on acme-pve-2 and sees nothing else; carol logs in with the
printed TOTP secret; the demo identity provider's groups map to the demo tenants."""

import pytest
from django.contrib.auth import get_user_model

from nexus.demo import demo_seed
from servers.pvesim import Simulator
from vms.selectors import guests_for_user


@pytest.fixture(scope="module")
def three_clusters():
    with Simulator({"cluster": {"task_delay": 0}}, servers=3) as simulator:
        yield simulator


def test_erin_sees_exactly_her_guests_with_what_she_may_do(db, three_clusters):
    demo_seed(simulator=three_clusters)
    demo_seed(simulator=three_clusters)  # seeding again changes nothing
    erin = get_user_model().objects.get(username="erin")
    listing = guests_for_user(erin)
    assert [(guest.server.name, guest.vmid) for guest in listing.guests] == [
        ("acme-pve-2", 101),
        ("acme-pve-2", 102),
        ("acme-pve-2", 200),
    ]
    actions = {guest.vmid: guest.actions for guest in listing.guests}
    assert actions[101]["console"] and actions[101]["shutdown"] and actions[102]["start"]
    assert not any(actions[200].values())
    assert listing.errors == []


def test_carols_authenticator_gives_the_codes_of_the_printed_secret(db, three_clusters):
    import base64

    from django_otp.oath import totp

    from nexus.demo import DEMO_TOTP_SECRET, demo_two_factor_seed

    demo_seed(simulator=three_clusters)
    assert demo_two_factor_seed() == DEMO_TOTP_SECRET
    device = get_user_model().objects.get(username="carol").totpdevice_set.get()
    code = totp(base64.b32decode(DEMO_TOTP_SECRET))
    assert device.verify_token(f"{code:06d}")


def test_the_demo_identity_provider_is_a_provider_of_the_portal_with_its_groups(db, three_clusters):
    from accounts.models import GroupMapping, OidcProvider
    from nexus.demo import demo_idp_config, demo_sso_seed

    demo_seed(simulator=three_clusters)
    people = demo_sso_seed(issuer="http://127.0.0.1:8100", client_secret="s3cret")
    demo_sso_seed(issuer="http://127.0.0.1:8100", client_secret="s3cret")  # again changes nothing
    assert [name for name, _ in people] == ["frank", "grace"]
    provider = OidcProvider.objects.get()
    assert (provider.name, provider.client_secret, provider.create_users) == ("Demo SSO", "s3cret", True)
    mappings = GroupMapping.objects.values_list("group", "tenant__slug", "role")
    assert sorted(mappings) == [("acme-it", "acme", "manager"), ("northwind-staff", "northwind", "viewer")]
    config = demo_idp_config(issuer="http://127.0.0.1:8100", portal_urls=["http://127.0.0.1:8000"], client_secret="s")
    assert config["port"] == 8100 and set(config["accounts"]) == {"frank", "grace"}
    assert config["clients"][0]["redirect_uris"] == ["http://127.0.0.1:8000/accounts/sso/demo-sso/callback/"]
