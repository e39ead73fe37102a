"""/metrics for Prometheus: only for the allowed networks or the bearer token, whatever the login; what it counts."""

import ipaddress

import pytest

from nexus import telemetry
from servers.proxmox import ProxmoxClient

TOKEN = "scrape-token-of-some-length"


@pytest.fixture
def protected(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def test_nobody_reads_the_metrics_by_default(client, db, platform_admin):
    client.force_login(platform_admin)
    assert client.get("/metrics").status_code == 404


def test_the_bearer_token_reads_them_from_any_host_name_without_being_sent_to_https(client, db, protected, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/metrics", HTTP_HOST="10.0.0.7:8000", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"nexus_consoles_open" in response.content


@pytest.mark.parametrize("authorization", ["", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_a_wrong_or_missing_token_reads_nothing(client, db, protected, authorization):
    assert client.get("/metrics", HTTP_AUTHORIZATION=authorization).status_code == 404


def test_an_allowed_network_reads_them_without_a_token(client, db, settings):
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 404


def test_behind_a_proxy_the_network_is_the_clients_not_the_proxys(client, db, settings):
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    settings.TRUSTED_PROXY_COUNT = 1
    outside = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert outside.status_code == 404


def _sample(name: str, **labels) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_proxmox_calls_are_counted_by_method_and_outcome(sim_server, pve):
    before = _sample("nexus_proxmox_api_call_seconds_count", method="GET", outcome="ok")
    with ProxmoxClient(sim_server.connection()) as client:
        client.version()
    assert _sample("nexus_proxmox_api_call_seconds_count", method="GET", outcome="ok") == before + 1


def test_celery_task_outcomes_are_counted(db):
    from console.tasks import close_stale_sessions

    before = _sample("nexus_celery_tasks_total", task=close_stale_sessions.name, outcome="success")
    close_stale_sessions.apply()
    assert _sample("nexus_celery_tasks_total", task=close_stale_sessions.name, outcome="success") == before + 1


def test_health_checks_are_counted_by_result():
    before = _sample("nexus_health_check_seconds_count", result="failed")
    telemetry.observe_health_check(success=False, seconds=0.2)
    assert _sample("nexus_health_check_seconds_count", result="failed") == before + 1
