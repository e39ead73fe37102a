"""Every page is built on templates/base.html, and its markup stays ready for a strict Content-Security-Policy."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from tests.conftest import make_console_session

# What base.html puts on every page: the stylesheets, the theme script, htmx, the header, main, the confirm dialog.
LAYOUT_MARKERS = [
    'href="/static/css/tokens.css"',
    'href="/static/css/nexus.css"',
    'href="/static/css/components.css"',
    '<script src="/static/js/theme.js"></script>',
    '<script defer src="/static/htmx/htmx.min.js"></script>',
    '<script defer src="/static/js/nexus.js"></script>',
    '<link rel="icon" href="/static/img/favicon.svg"',
    'class="skip-link" href="#main"',
    '<header class="header">',
    '<main id="main"',
    '<dialog id="confirm-dialog"',
]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


@pytest.fixture
def pages(client, sim_server, admin_a, platform_admin):
    """(name, user, url, expected status) of every portal page; each renders with the layout."""
    make_console_session(admin_a, sim_server, opened_at=timezone.now(), guest_name="web-01")
    return [
        ("login", None, reverse("login"), 200),
        ("home", admin_a, reverse("portal:home"), 200),
        ("dashboard of a platform admin", platform_admin, reverse("portal:home") + "?tenant=tenant-a", 200),
        ("server", admin_a, reverse("vms:server", args=[sim_server.pk]), 200),
        ("guests", admin_a, reverse("vms:guests"), 200),
        ("guests as cards", admin_a, reverse("vms:guests") + "?view=cards", 200),
        ("stopped guest's console", admin_a, reverse("console:page", args=[sim_server.pk, 102]), 200),
        ("console sessions", admin_a, reverse("console:sessions"), 200),
        ("console", admin_a, reverse("console:page", args=[sim_server.pk, 100]), 200),
        ("console refused", admin_a, reverse("console:page", args=[sim_server.pk, 4242]), 404),
        ("manage servers", admin_a, reverse("servers:list"), 200),
        ("add server", admin_a, reverse("servers:add"), 200),
        ("edit server", admin_a, reverse("servers:edit", args=[sim_server.pk]), 200),
        ("certificate", admin_a, reverse("servers:certificate", args=[sim_server.pk]), 200),
        ("import servers", admin_a, reverse("servers:import"), 200),
        ("explorer", admin_a, reverse("servers:explore", args=[sim_server.pk]), 200),
        ("explorer read", admin_a, reverse("servers:explore", args=[sim_server.pk]) + "?template=/nodes&read=1", 200),
        ("design system", platform_admin, reverse("design"), 200),
        ("members", admin_a, reverse("tenants:members", args=[sim_server.tenant.slug]), 200),
        ("tenant settings", admin_a, reverse("tenants:settings", args=[sim_server.tenant.slug]), 200),
        ("audit log", admin_a, reverse("tenants:audit"), 200),
        ("API tokens", admin_a, reverse("accounts:tokens"), 200),
        ("password change", admin_a, reverse("accounts:password-change"), 200),
        ("password reset", None, reverse("accounts:password-reset"), 200),
        ("password reset sent", None, reverse("accounts:password-reset-sent"), 200),
        ("password set", None, reverse("accounts:password-reset-confirm", args=["MQ", "set-password"]), 200),
        ("password set done", None, reverse("accounts:password-reset-done"), 200),
        ("users", platform_admin, reverse("accounts:users"), 200),
        ("platform", platform_admin, reverse("portal:operators"), 200),
        ("two-factor", admin_a, reverse("accounts:security"), 200),
        ("authenticator app", admin_a, reverse("accounts:totp-enrol"), 200),
    ]


def render_each(client, pages):
    for name, user, url, status in pages:
        client.logout()
        if user:
            client.force_login(user)
        response = client.get(url)
        assert response.status_code == status, name
        yield name, response.content.decode()


def test_every_page_uses_the_base_layout(client, pages):
    for name, html in render_each(client, pages):
        missing = [marker for marker in LAYOUT_MARKERS if marker not in html]
        assert not missing, f"{name} lacks {missing}"
        assert html.count("<h1") == 1, f"{name} should have one h1"


def test_no_page_has_inline_scripts_handlers_or_styles(client, pages):
    for name, html in render_each(client, pages):
        assert not INLINE_SCRIPT.findall(html), name
        assert not INLINE_HANDLER.findall(html), name
        assert not INLINE_STYLE.findall(html), name


def test_the_chart_library_loads_only_on_pages_that_draw_charts(client, pages):
    for name, html in render_each(client, pages):
        assert ("/static/uplot/uPlot.iife.min.js" in html) is (
            name in ("design system", "home", "dashboard of a platform admin")
        ), name


def test_the_theme_script_runs_before_the_first_paint(client, db):  # the login page lists the SSO providers
    html = client.get(reverse("login")).content.decode()
    head = html[: html.index("</head>")]
    assert '<script src="/static/js/theme.js"></script>' in head  # in <head>, neither deferred nor async


@pytest.mark.parametrize(
    "path",
    [
        "css/tokens.css",
        "css/nexus.css",
        "css/components.css",
        "js/theme.js",
        "js/nexus.js",
        "js/charts.js",
        "img/favicon.svg",
        "img/icons.svg",
        "htmx/htmx.min.js",
        "uplot/uPlot.iife.min.js",
        "uplot/uPlot.min.css",
    ],
)
def test_the_static_files_the_layout_names_exist(path):
    assert finders.find(path), path


def test_favicon_ico_leads_to_the_svg_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.svg"


def test_the_navigation_marks_the_current_page(client, admin_a, server_a):
    client.force_login(admin_a)
    html = client.get(reverse("console:sessions")).content.decode()
    assert f'href="{reverse("console:sessions")}" aria-current="page"' in html
    assert f'href="{reverse("portal:home")}" aria-current="page"' not in html


def test_a_servers_pages_show_its_tenant_in_the_header(client, admin_a, server_a):
    client.force_login(admin_a)
    html = client.get(reverse("vms:server", args=[server_a.pk])).content.decode()
    header = html[html.index('<div class="header-tenant">') : html.index("</header>")]
    assert '<span class="tenant-name" title="Tenant A">Tenant A</span>' in header
