"""Screenshots of the account and tenant administration pages (accounts, members, settings, audit, API tokens,
two-factor, the operators' pages) as each demo user sees them, in light and dark, desktop and phone, under
test-artifacts/screenshots/accounts-<user>-<page>-*.png; each must fit a phone without sideways scrolling."""

import base64

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp

from accounts.services import api_token_create, recovery_codes_generate
from nexus.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, demo_seed, demo_sso_seed, demo_two_factor_seed
from servers.pvesim import Simulator
from tenants.models import Membership
from tenants.roles import Role
from tests.e2e.test_design_browser import DESKTOP, landing, save_screenshots

pytestmark = [pytest.mark.browser, pytest.mark.screenshots]


@pytest.fixture(scope="module")
def three_clusters():
    with Simulator({"cluster": {"task_delay": 0}}, servers=3) as simulator:
        yield simulator


@pytest.fixture
def demo(transactional_db, three_clusters):
    """The demo's tenants, people and servers, with what makes their pages show something: carol's authenticator
    and recovery codes, an API token, an invited member, the demo identity provider and its groups."""
    from django.contrib.auth import get_user_model

    demo_seed(simulator=three_clusters)
    demo_two_factor_seed()
    demo_sso_seed(issuer="http://127.0.0.1:9", client_secret="demo")
    users = {user.username: user for user in get_user_model().objects.all()}
    recovery_codes_generate(user=users["carol"], actor=users["carol"], client_ip=None)
    api_token_create(
        user=users["alice"],
        name="nightly backup",
        expires_at=timezone.now() + timezone.timedelta(days=30),
        client_ip=None,
    )
    invited = get_user_model()(username="jo", email="jo@acme.example")
    invited.set_unusable_password()
    invited.save()
    Membership.objects.create(user=invited, tenant_id=users["alice"].memberships.get().tenant_id, role=Role.VIEWER)
    return users


def pages_of(username: str) -> list[tuple[str, str]]:
    own = [
        ("tokens", reverse("accounts:tokens")),
        ("security", reverse("accounts:security")),
        ("password", reverse("accounts:password-change")),
        ("audit", reverse("tenants:audit")),
    ]
    acme, northwind = ("acme", "northwind")

    def tenant_pages(slug, *names):
        urls = {
            "members": reverse("tenants:members", args=[slug]),
            "settings": reverse("tenants:settings", args=[slug]),
            "sso-groups": reverse("accounts:sso-groups", args=[slug]),
        }
        return [(f"{name}-{slug}", urls[name]) for name in names]

    return {
        "operator": [
            ("platform", reverse("portal:operators")),
            ("users", reverse("accounts:users")),
            *tenant_pages(northwind, "members", "settings", "sso-groups"),
            *own,
        ],
        "alice": [*tenant_pages(acme, "members", "settings", "sso-groups"), *own],
        "bob": [*tenant_pages(acme, "members"), *own],
        "carol": own,
        "dave": [*tenant_pages(northwind, "members", "settings"), *own],
        "erin": own,
    }[username]


def log_in(browser, daphne_server, username: str):
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto(f"{daphne_server.url}{reverse('login')}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    if username == "carol":  # her authenticator app's code, as the demo prints its secret
        page.wait_for_url(f"{daphne_server.url}{reverse('accounts:login-verify')}*")
        save_screenshots(page, "accounts-carol-second-step")
        page.fill("#id_code", f"{totp(base64.b32decode(DEMO_TOTP_SECRET)):06d}")
        page.click("main form button[type=submit]")
    page.wait_for_url(landing(daphne_server))
    return page


def test_screenshots_of_the_login_and_password_reset_pages(demo, daphne_server, browser):
    page = browser.new_context(viewport=DESKTOP).new_page()
    for name, url in (("login", reverse("login")), ("password-reset", reverse("accounts:password-reset"))):
        page.goto(f"{daphne_server.url}{url}")
        save_screenshots(page, f"accounts-anonymous-{name}")


@pytest.mark.parametrize("username", ["operator", "alice", "bob", "carol", "dave", "erin"])
def test_screenshots_of_the_account_and_tenant_pages_as_each_demo_user(username, demo, daphne_server, browser):
    page = log_in(browser, daphne_server, username)
    for name, url in pages_of(username):
        response = page.goto(f"{daphne_server.url}{url}")
        assert response.status == 200, f"{username} {name}"
        save_screenshots(page, f"accounts-{username}-{name}")
