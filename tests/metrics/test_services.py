"""metrics.services against the simulator: states, learned timeouts, leases, compare-and-swap, rollups, retention,
the console probe."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from metrics import services
from metrics.models import ConnectionMetric, HourlyRollup
from metrics.selectors import hour_start
from metrics.services import (
    health_sweep_start,
    learned_timeout_ms,
    metrics_prune,
    servers_health_check,
    servers_health_check_chunk,
)
from servers.models import ProxmoxServer
from tests.conftest import make_server


@pytest.fixture
def events(monkeypatch):
    heard = []
    monkeypatch.setattr(services, "tenant_event_publish", lambda **event: heard.append(event))
    return heard


def test_a_healthy_server_goes_online_with_its_figures(sim_server, events):
    [metric] = servers_health_check(servers=[sim_server])
    assert metric.success and metric.response_time_ms is not None and metric.error == ""
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "online"
    assert sim_server.success_rate == 100.0
    assert sim_server.avg_response_time_ms == metric.response_time_ms
    assert sim_server.last_health_check_at == metric.timestamp
    assert sim_server.health_lease == "" and sim_server.health_lease_until is None
    [rollup] = HourlyRollup.objects.filter(server=sim_server)
    assert (rollup.checks, rollup.successes, rollup.p95_ms) == (1, 1, metric.response_time_ms)
    status, health = events
    assert status["kind"] == "server.status" and status["data"]["status"] == "online"
    assert status["data"]["previous"] == "unknown" and status["tenant_id"] == sim_server.tenant_id
    assert (
        health["kind"] == "server.health" and health["data"]["ok"] and health["data"]["ms"] == metric.response_time_ms
    )


def test_a_server_is_offline_only_after_failures_in_a_row(tenant_a, settings, events):
    settings.HEALTH_OFFLINE_AFTER = 2
    server = make_server(tenant_a, "gone", host="127.0.0.1", port=9)
    [metric] = servers_health_check(servers=[server])
    assert not metric.success and "Cannot connect to 127.0.0.1:9" in metric.error
    server.refresh_from_db()
    assert server.connection_status == "unknown" and server.consecutive_failures == 1
    servers_health_check(servers=[server])
    server.refresh_from_db()
    assert server.connection_status == "offline" and server.health_check_error == metric.error
    assert server.success_rate == 0.0
    assert [event["data"]["status"] for event in events if event["kind"] == "server.status"] == ["offline"]


def test_a_hanging_server_goes_offline_within_its_timeout_and_recovers(sim_server, pve, settings, events):
    settings.HEALTH_OFFLINE_AFTER = 2
    servers_health_check(servers=[sim_server])
    ProxmoxServer.objects.filter(pk=sim_server.pk).update(learned_timeout_ms=1000)
    pve.faults.hang = True
    for _ in range(2):
        [metric] = servers_health_check(servers=[sim_server])
        assert not metric.success and "did not answer" in metric.error
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "offline"
    pve.faults.hang = False
    [metric] = servers_health_check(servers=[sim_server])
    sim_server.refresh_from_db()
    assert metric.success and sim_server.connection_status == "online" and sim_server.consecutive_failures == 0
    statuses = [event["data"]["status"] for event in events if event["kind"] == "server.status"]
    assert statuses == ["online", "degraded", "offline", "online"]


def test_a_slow_server_is_degraded(sim_server, pve, settings):
    settings.HEALTH_SLOW_MS = 50
    pve.faults.latency = 0.1
    servers_health_check(servers=[sim_server])
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "degraded"


def test_a_cluster_with_a_node_down_is_degraded_with_the_reason(sim_server, pve):
    pve.faults.offline_nodes = frozenset({"pve2"})
    [metric] = servers_health_check(servers=[sim_server])
    sim_server.refresh_from_db()
    assert metric.success and sim_server.connection_status == "degraded"
    assert sim_server.health_check_error == "Nodes not online: pve2."


def test_the_learned_timeout_follows_the_response_times_both_ways(sim_server, settings):
    settings.HEALTH_TIMEOUT_FACTOR, settings.HEALTH_TIMEOUT_FLOOR, settings.HEALTH_TIMEOUT_CEILING = 3, 1, 30
    assert learned_timeout_ms([100] * 18 + [5000] * 2) == 15000  # the p95 of 20 is the 19th
    assert learned_timeout_ms([100] * 19 + [5000]) == 1000  # one outlier in 20 is not the p95
    assert learned_timeout_ms([4000] * 20) == 12000
    assert learned_timeout_ms([10] * 20) == 1000  # floor
    assert learned_timeout_ms([60000]) == 30000  # ceiling
    assert learned_timeout_ms([]) is None

    ProxmoxServer.objects.filter(pk=sim_server.pk).update(learned_timeout_ms=30000)
    servers_health_check(servers=[sim_server])  # a fast simulator: down to the floor
    sim_server.refresh_from_db()
    assert sim_server.learned_timeout_ms == 1000
    slow = timezone.now() - timedelta(minutes=5)
    ConnectionMetric.objects.bulk_create(
        ConnectionMetric(server=sim_server, timestamp=slow, kind="health_check", success=True, response_time_ms=4000)
        for _ in range(10)
    )
    servers_health_check(servers=[sim_server])
    sim_server.refresh_from_db()
    assert sim_server.learned_timeout_ms == 12000


def test_the_check_uses_the_learned_timeout(sim_server, settings):
    settings.HEALTH_TIMEOUT_CEILING = 30
    sim_server.learned_timeout_ms = 1500
    assert services.check_timeout(sim_server) == 1.5
    sim_server.learned_timeout_ms = None
    assert services.check_timeout(sim_server) == sim_server.connection_timeout
    sim_server.connection_status, sim_server.consecutive_failures = "offline", 5
    assert services.check_timeout(sim_server) == 30  # now and then an offline server gets the ceiling


def test_a_hanging_server_does_not_hold_up_the_others(sim_server, tenant_a):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts TCP, never speaks TLS
        hanging = make_server(tenant_a, "hanging", host="127.0.0.1", port=silent.getsockname()[1], connection_timeout=1)
        metrics = {metric.server.name: metric for metric in servers_health_check(servers=[hanging, sim_server])}
    assert metrics["pve-sim"].success
    assert not metrics["hanging"].success and "did not answer" in metrics["hanging"].error


def test_a_server_being_checked_is_not_checked_again_at_once(sim_server):
    until = timezone.now() + timedelta(minutes=1)
    ProxmoxServer.objects.filter(pk=sim_server.pk).update(health_lease="another-task", health_lease_until=until)
    assert servers_health_check(servers=[sim_server]) == []
    # The chunk that holds the lease (redelivered after its worker died) takes it back.
    [metric] = servers_health_check_chunk(server_ids=[sim_server.pk], holder="another-task")
    assert metric.success
    # An expired lease is free.
    ProxmoxServer.objects.filter(pk=sim_server.pk).update(health_lease="dead", health_lease_until=timezone.now())
    assert len(servers_health_check(servers=[sim_server])) == 1


def test_no_overlap_when_a_check_outlasts_the_interval(sim_server, settings):
    """A sweep's check still runs when the next sweep comes: the next sweep's chunk leaves that server alone."""
    settings.HEALTH_CHECK_INTERVAL = 1
    first_sweep = timezone.now()
    in_progress = services._claim([sim_server.pk], holder="sweep-1", since=first_sweep)
    next_sweep = first_sweep + timedelta(seconds=1)
    assert servers_health_check_chunk(server_ids=[sim_server.pk], holder="sweep-2", sweep_started=next_sweep) == []
    services._check_and_record(in_progress)
    assert ConnectionMetric.objects.filter(server=sim_server).count() == 1


def test_a_second_sweep_in_one_interval_checks_nothing_again(sim_server, settings):
    settings.HEALTH_CHECK_INTERVAL = 60
    sweep = health_sweep_start()
    assert sweep.chunks == [[sim_server.pk]]
    assert health_sweep_start() is None  # the interval's slot is taken
    assert len(servers_health_check_chunk(server_ids=[sim_server.pk], holder="a", sweep_started=sweep.started)) == 1
    # Even without the slot (beat's late double, a second beat on another cache): checked this interval already.
    assert servers_health_check_chunk(server_ids=[sim_server.pk], holder="b", sweep_started=timezone.now()) == []


def test_sweeps_split_the_servers_in_chunks(tenant_a, settings):
    settings.HEALTH_CHECK_CHUNK_SIZE = 2
    servers = [make_server(tenant_a, f"pve-{n}") for n in range(5)]
    make_server(tenant_a, "disabled", is_active=False)
    assert health_sweep_start().chunks == [[s.pk for s in servers[:2]], [s.pk for s in servers[2:4]], [servers[4].pk]]


def test_racing_writers_record_one_transition(sim_server, events):
    """Two outcomes computed from the same old status: the compare-and-swap lets only the first write it."""
    outcome = services._Outcome(sim_server, True, 5, "", False, None)
    same_server_read_twice = services._Outcome(ProxmoxServer.objects.get(pk=sim_server.pk), True, 7, "", False, None)
    services._record([outcome])
    services._record([same_server_read_twice])
    assert [event["data"]["status"] for event in events if event["kind"] == "server.status"] == ["online"]
    assert [event["data"]["status"] for event in events if event["kind"] == "server.health"] == ["online", "online"]


def test_rollups_count_the_hour_and_feed_the_summary(sim_server):
    earlier = hour_start(timezone.now())
    ConnectionMetric.objects.bulk_create(
        ConnectionMetric(server=sim_server, timestamp=earlier, kind="health_check", success=False) for _ in range(3)
    )
    servers_health_check(servers=[sim_server])
    sim_server.refresh_from_db()
    [rollup] = HourlyRollup.objects.filter(server=sim_server)
    assert (rollup.checks, rollup.successes) == (4, 1)
    assert sim_server.success_rate == 25.0 and sim_server.connection_status == "online"  # the first success


def test_the_console_probe_times_the_way_to_the_console(sim_server):
    ProxmoxServer.objects.filter(pk=sim_server.pk).update(console_probe=True, console_probe_vmid=100)
    metrics = servers_health_check(servers=[ProxmoxServer.objects.get(pk=sim_server.pk)])
    probe = next(metric for metric in metrics if metric.kind == "console_probe")
    assert probe.success and probe.response_time_ms is not None, probe.error
    assert HourlyRollup.objects.get(server=sim_server).probe_ms == probe.response_time_ms


def test_a_console_probe_of_a_missing_guest_fails_with_the_reason(sim_server):
    ProxmoxServer.objects.filter(pk=sim_server.pk).update(console_probe=True, console_probe_vmid=4242)
    metrics = servers_health_check(servers=[ProxmoxServer.objects.get(pk=sim_server.pk)])
    probe = next(metric for metric in metrics if metric.kind == "console_probe")
    assert not probe.success and "4242" in probe.error


def test_an_undecryptable_secret_is_reported_not_raised(sim_server, settings):
    from cryptography.fernet import Fernet

    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    [metric] = servers_health_check(servers=[sim_server])
    assert not metric.success and "unusable" in metric.error


def test_old_metrics_are_pruned_in_batches(sim_server, settings, monkeypatch):
    settings.METRICS_RETENTION_DAYS = 30
    monkeypatch.setattr(services, "PRUNE_BATCH", 2)
    old = timezone.now() - timedelta(days=31)
    ConnectionMetric.objects.bulk_create(
        ConnectionMetric(server=sim_server, timestamp=old, kind="health_check", success=True) for _ in range(5)
    )
    HourlyRollup.objects.create(server=sim_server, hour=hour_start(old - timedelta(days=400)), checks=1)
    servers_health_check(servers=[sim_server])
    assert metrics_prune() == 6
    assert ConnectionMetric.objects.count() == 1 and HourlyRollup.objects.count() == 1
