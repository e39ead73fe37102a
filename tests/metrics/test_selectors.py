"""metrics.selectors: hourly buckets for charts and a tenant's dashboard figures."""

from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from metrics.models import HourlyRollup
from metrics.selectors import hour_start, server_hourly_buckets, tenant_hourly_buckets, tenant_stats
from tests.conftest import make_console_session, make_server
from vms.selectors import _remember_states


def test_buckets_cover_every_hour_of_the_window_oldest_first(server_a):
    now = hour_start(timezone.now())
    HourlyRollup.objects.create(server=server_a, hour=now, checks=4, successes=3, sum_ms=300, avg_ms=100, p95_ms=150)
    HourlyRollup.objects.create(server=server_a, hour=now - timedelta(hours=2), checks=2, successes=2, probe_ms=40)
    HourlyRollup.objects.create(server=server_a, hour=now - timedelta(hours=24), checks=9, successes=9)  # too old

    buckets = server_hourly_buckets(server_ids=[server_a.pk], hours=24)[server_a.pk]

    assert len(buckets) == 24 and buckets[-1].hour == now and buckets[0].hour == now - timedelta(hours=23)
    assert (buckets[-1].checks, buckets[-1].success_rate, buckets[-1].avg_ms, buckets[-1].p95_ms) == (4, 75.0, 100, 150)
    assert buckets[-3].probe_ms == 40 and buckets[-3].success_rate == 100.0
    assert buckets[-2].checks == 0 and buckets[-2].success_rate is None
    assert sum(bucket.checks for bucket in buckets) == 6


def test_buckets_of_many_servers_take_one_query(server_a, tenant_a, django_assert_num_queries):
    others = [make_server(tenant_a, f"pve-{n}") for n in range(5)]
    with django_assert_num_queries(1):
        buckets = server_hourly_buckets(server_ids=[server_a.pk, *(s.pk for s in others)], hours=3)
    assert {len(hours) for hours in buckets.values()} == {3}


def test_the_window_is_clamped_to_a_week(server_a):
    assert len(server_hourly_buckets(server_ids=[server_a.pk], hours=1000)[server_a.pk]) == 168
    assert len(server_hourly_buckets(server_ids=[server_a.pk], hours=0)[server_a.pk]) == 1


def test_tenant_stats_count_what_the_user_sees(server_a, server_b, tenant_a, viewer_a, admin_a):
    make_server(tenant_a, "down", connection_status="offline")
    make_server(tenant_a, "off", is_active=False)
    now = hour_start(timezone.now())
    HourlyRollup.objects.create(server=server_a, hour=now, checks=4, successes=2, sum_ms=300)
    HourlyRollup.objects.create(server=server_b, hour=now, checks=10, successes=10, sum_ms=10)  # another tenant
    cache.clear()
    _remember_states(
        {
            server_a.pk: {
                "resources": [
                    {"vmid": 100, "type": "qemu", "status": "running"},
                    {"vmid": 101, "type": "qemu", "status": "stopped"},
                    {"vmid": 200, "type": "lxc", "status": "running"},
                    {"vmid": 900, "type": "qemu", "status": "stopped", "template": 1},
                ]
            }
        }
    )
    make_console_session(admin_a, server_a, opened_at=timezone.now())

    stats = tenant_stats(tenant=tenant_a, user=viewer_a)

    assert stats["servers"] == {"unknown": 1, "online": 0, "degraded": 0, "offline": 1}
    assert (stats["success_rate"], stats["avg_response_ms"]) == (50.0, 150)
    guests = stats["guests"]
    assert guests["qemu"] == {"running": 1, "stopped": 1} and guests["lxc"] == {"running": 1, "stopped": 0}
    assert (guests["servers_counted"], guests["servers_not_counted"]) == (1, 1)
    assert stats["consoles_open"] == 0  # a viewer counts their own consoles
    assert tenant_stats(tenant=tenant_a, user=admin_a)["consoles_open"] == 1


def test_tenant_stats_without_checks_or_lists_say_none(server_a, tenant_a, viewer_a):
    cache.clear()
    stats = tenant_stats(tenant=tenant_a, user=viewer_a)
    assert stats["success_rate"] is None and stats["avg_response_ms"] is None
    assert stats["guests"]["servers_counted"] == 0 and stats["guests"]["as_of"] is None


def test_a_tenant_s_buckets_add_up_the_servers_it_sees(server_a, server_b, tenant_a, viewer_a):
    other = make_server(tenant_a, "pve-2")
    now = hour_start(timezone.now())
    HourlyRollup.objects.create(server=server_a, hour=now, checks=4, successes=4, sum_ms=400, p95_ms=150, probe_ms=30)
    HourlyRollup.objects.create(server=other, hour=now, checks=4, successes=2, sum_ms=800, p95_ms=500)
    HourlyRollup.objects.create(server=server_b, hour=now, checks=9, successes=9, sum_ms=9, p95_ms=9000)

    buckets = tenant_hourly_buckets(tenant=tenant_a, user=viewer_a, hours=2)

    assert [bucket.checks for bucket in buckets] == [0, 8]
    last = buckets[-1]
    assert (last.successes, last.success_rate, last.avg_ms, last.p95_ms, last.probe_ms) == (6, 75.0, 200, 500, 30)
