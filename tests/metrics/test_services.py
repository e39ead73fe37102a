import socket
from datetime import timedelta

from django.utils import timezone

from metrics.models import ConnectionMetric
from metrics.services import metrics_prune, servers_health_check
from metrics.tasks import run_health_checks
from tests.conftest import make_server


def test_a_reachable_server_is_online_with_its_figures(sim_server):
    [metric] = servers_health_check(servers=[sim_server])
    assert metric.success and metric.response_time_ms is not None and metric.error == ""
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "online"
    assert sim_server.success_rate == 100.0
    assert sim_server.avg_response_time_ms == metric.response_time_ms
    assert sim_server.last_health_check_at == metric.timestamp


def test_an_unreachable_server_is_offline_with_the_reason(tenant_a):
    server = make_server(tenant_a, "gone", host="127.0.0.1", port=9)
    [metric] = servers_health_check(servers=[server])
    assert not metric.success and "Cannot connect to 127.0.0.1:9" in metric.error
    server.refresh_from_db()
    assert server.connection_status == "offline"
    assert server.health_check_error == metric.error
    assert server.success_rate == 0.0


def test_a_hanging_server_is_timed_out_and_does_not_hold_up_the_others(sim_server, tenant_a):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts TCP, never speaks TLS
        hanging = make_server(tenant_a, "hanging", host="127.0.0.1", port=silent.getsockname()[1], connection_timeout=1)
        metrics = {metric.server.name: metric for metric in servers_health_check(servers=[hanging, sim_server])}
    assert metrics["pve-sim"].success
    assert not metrics["hanging"].success and "did not answer" in metrics["hanging"].error


def test_a_server_that_fails_now_and_then_is_degraded(sim_server):
    now = timezone.now()
    ConnectionMetric.objects.bulk_create(
        ConnectionMetric(server=sim_server, timestamp=now - timedelta(hours=1), kind="health_check", success=False)
        for _ in range(3)
    )
    servers_health_check(servers=[sim_server])
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "degraded"
    assert sim_server.success_rate == 25.0


def test_an_undecryptable_secret_is_reported_not_raised(sim_server, settings):
    from cryptography.fernet import Fernet

    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    [metric] = servers_health_check(servers=[sim_server])
    assert not metric.success and "unusable" in metric.error


def test_the_beat_task_checks_every_active_server(sim_server, tenant_a):
    make_server(tenant_a, "disabled", host="127.0.0.1", port=9, is_active=False)
    run_health_checks.apply()
    assert list(ConnectionMetric.objects.values_list("server__name", flat=True)) == ["pve-sim"]


def test_old_metrics_are_pruned(sim_server):
    old = ConnectionMetric.objects.create(
        server=sim_server, timestamp=timezone.now() - timedelta(days=31), kind="health_check", success=True
    )
    servers_health_check(servers=[sim_server])
    assert metrics_prune() == 1
    assert not ConnectionMetric.objects.filter(pk=old.pk).exists()
