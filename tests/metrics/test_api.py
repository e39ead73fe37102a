"""The health figures' API: a server's hourly buckets and a tenant's stats."""

from django.utils import timezone

from metrics.models import HourlyRollup
from metrics.selectors import hour_start


def test_a_server_s_metrics_are_its_hourly_buckets(client, viewer_a, server_a):
    HourlyRollup.objects.create(server=server_a, hour=hour_start(timezone.now()), checks=2, successes=1, sum_ms=40)
    client.force_login(viewer_a)
    answer = client.get(f"/api/v1/servers/{server_a.pk}/metrics/?hours=3").json()
    assert answer["server"] == server_a.pk and answer["status"] == "unknown" and "learned_timeout_ms" in answer
    assert [bucket["checks"] for bucket in answer["buckets"]] == [0, 0, 2]
    assert answer["buckets"][-1]["success_rate"] == 50.0


def test_the_hours_are_checked(client, viewer_a, server_a):
    client.force_login(viewer_a)
    assert client.get(f"/api/v1/servers/{server_a.pk}/metrics/?hours=169").status_code == 400
    assert client.get(f"/api/v1/servers/{server_a.pk}/metrics/?hours=0").status_code == 400
    assert len(client.get(f"/api/v1/servers/{server_a.pk}/metrics/").json()["buckets"]) == 24


def test_another_tenant_s_server_is_not_found(client, admin_b, server_a):
    client.force_login(admin_b)
    assert client.get(f"/api/v1/servers/{server_a.pk}/metrics/").status_code == 404
    assert client.get("/api/v1/tenants/tenant-a/stats/").status_code == 404


def test_a_tenant_s_stats(client, viewer_a, server_a):
    client.force_login(viewer_a)
    stats = client.get("/api/v1/tenants/tenant-a/stats/").json()
    assert stats["servers"]["unknown"] == 1 and stats["consoles_open"] == 0
    assert stats["guests"]["qemu"] == {"running": 0, "stopped": 0}


def test_both_are_in_the_schema(client, viewer_a):
    client.force_login(viewer_a)
    schema = client.get("/api/schema/?format=json").json()
    assert "/api/v1/servers/{server_id}/metrics/" in schema["paths"]
    assert "/api/v1/tenants/{slug}/stats/" in schema["paths"]
