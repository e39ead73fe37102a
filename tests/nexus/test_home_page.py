"""The home page: the current tenant's dashboard (figures, server health with 24-hour charts, live updates), what
single grants show of it, and the platform admins' overview of every tenant."""

import json
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from metrics.models import HourlyRollup
from metrics.selectors import hour_start
from tenants import roles
from tenants.models import Membership
from tenants.roles import Role
from tests.conftest import make_server
from vms.services import guest_grant_set


def main(response) -> str:
    """The page's main content (the header's tenant switcher names tenants too)."""
    return response.content.decode().split('<main id="main"', 1)[1]


def home(client, user, **query) -> str:
    client.force_login(user)
    return main(client.get(reverse("portal:home"), query))


def charts(html: str) -> list[dict]:
    return [json.loads(chunk.split('"', 1)[0].replace("&quot;", '"')) for chunk in html.split('data-chart="')[1:]]


def test_a_member_sees_their_tenants_figures_servers_and_a_chart_of_each(client, viewer_a, server_a, tenant_a):
    make_server(tenant_a, "pve-a2", connection_status="offline")
    now = hour_start(timezone.now())
    HourlyRollup.objects.create(server=server_a, hour=now, checks=4, successes=3, sum_ms=300, avg_ms=100)
    HourlyRollup.objects.create(server=server_a, hour=now - timedelta(hours=5), checks=2, successes=2, avg_ms=40)
    html = home(client, viewer_a)
    assert "Tenant A" in html and "Servers online" in html and "Consoles open" in html
    assert html.index("pve-a") < html.index("pve-a2")
    assert f'data-server-status="{server_a.pk}"' in html
    assert 'data-live-stream="/ws/tenants/tenant-a/events/"' in html
    together, chart = charts(html)  # all servers as one, then pve-a's; pve-a2 has no checks yet and says so
    assert together["series"][0]["values"][-1] == 75.0
    assert len(chart["x"]) == 24 and chart["series"][0]["values"][-1] == 75.0
    assert chart["series"][1]["values"][-6] == 40 and chart["series"][1]["values"][-2] is None
    assert "No hourly figures in the last 24 hours yet" in html
    assert "pve.example.com" not in html  # the dashboard never shows how a server is reached


def test_a_member_of_several_tenants_sees_the_one_they_work_in(client, admin_a, server_a, server_b):
    Membership.objects.create(user=admin_a, tenant=server_b.tenant, role=Role.VIEWER)
    html = home(client, admin_a, tenant="tenant-b")
    assert "pve-b" in html and "pve-a" not in html
    assert "pve-a" in home(client, admin_a, tenant="tenant-a")


def test_a_tenant_without_servers_offers_to_add_one_to_who_may(client, admin_a, viewer_a):
    html = home(client, admin_a)
    assert "No servers yet" in html and reverse("servers:add") in html
    assert reverse("servers:add") not in home(client, viewer_a)


def test_a_single_server_grantee_sees_that_server_and_its_chart_only(client, outsider, server_a, tenant_a):
    other = make_server(tenant_a, "pve-a2")
    HourlyRollup.objects.create(server=other, hour=hour_start(timezone.now()), checks=1, successes=1)
    assign_perm(roles.OPEN_CONSOLE, outsider, server_a)
    html = home(client, outsider)
    assert "pve-a" in html and "pve-a2" not in html and charts(html) == []


def test_a_single_guest_holder_sees_the_servers_name_and_status_but_not_its_health(client, outsider, server_a):
    HourlyRollup.objects.create(server=server_a, hour=hour_start(timezone.now()), checks=1, successes=1)
    guest_grant_set(user=outsider, server=server_a, vmid=100)
    html = home(client, outsider)
    assert "Servers of your guests" in html and "pve-a" in html and f'data-server-status="{server_a.pk}"' in html
    assert charts(html) == [] and "Checks passed" not in html and "Servers online" not in html


def test_someone_without_tenants_sees_the_empty_state(client, outsider, server_a):
    html = home(client, outsider)
    assert "You are not a member of any tenant yet" in html and "pve-a" not in html


def test_an_inactive_server_is_listed_as_inactive_not_with_a_health_it_no_longer_has(client, viewer_a, tenant_a):
    make_server(tenant_a, "asleep", is_active=False, connection_status="online")
    html = home(client, viewer_a)
    assert '<span class="badge warning">inactive</span>' in html and ">Online<" not in html


def test_a_platform_admin_starts_on_the_platform_page_and_opens_a_tenants_dashboard_from_there(
    client, platform_admin, server_a, server_b
):
    client.force_login(platform_admin)
    assert client.get(reverse("portal:home")).url == reverse("portal:operators")
    platform = main(client.get(reverse("portal:operators")))
    assert f'href="{reverse("portal:home")}?tenant=tenant-a"' in platform
    html = main(client.get(reverse("portal:home"), {"tenant": "tenant-a"}))
    assert "pve-a" in html and "pve-b" not in html and f'href="{reverse("portal:operators")}">Platform</a>' in html
    # Once they chose a tenant, the home page is its dashboard.
    client.post(reverse("tenants:switch"), {"tenant": "tenant-b", "next": "/"})
    assert "pve-b" in main(client.get(reverse("portal:home")))


def test_the_live_parts_are_fetched_again_by_who_reaches_the_tenant_only(client, viewer_a, admin_b, server_a):
    stats = reverse("portal:dashboard-part", args=["tenant-a", "stats"])
    servers = reverse("portal:dashboard-part", args=["tenant-a", "servers"])
    client.force_login(viewer_a)
    assert "Servers online" in client.get(stats).content.decode()
    assert "pve-a" in client.get(servers).content.decode()
    assert client.get(reverse("portal:dashboard-part", args=["tenant-a", "other"])).status_code == 404
    client.force_login(admin_b)
    assert client.get(stats).status_code == 404


def test_the_dashboard_asks_the_database_as_often_for_many_servers_as_for_two(
    client, viewer_a, server_a, tenant_a, django_assert_num_queries
):
    make_server(tenant_a, "pve-a2")  # two already: the chart of all servers is drawn from two on
    client.force_login(viewer_a)
    client.get(reverse("portal:home"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("portal:home"))
    for n in range(5):
        server = make_server(tenant_a, f"pve-{n}")
        HourlyRollup.objects.create(server=server, hour=hour_start(timezone.now()), checks=1, successes=1)
    with django_assert_num_queries(len(few)):
        client.get(reverse("portal:home"))
