"""metrics.tasks: the sweep and its chunks, a saved server's first check; what saving a server leaves alone."""

from datetime import timedelta

from django.utils import timezone

from metrics.models import ConnectionMetric
from metrics.tasks import check_server, check_servers, run_health_checks
from servers.models import ProxmoxServer
from servers.services import server_update
from tests.conftest import make_server


def test_one_server_is_checked_by_its_id(sim_server, tenant_a):
    make_server(tenant_a, "other", host="127.0.0.1", port=9)
    check_server.apply(args=[sim_server.pk])
    assert list(ConnectionMetric.objects.values_list("server__name", flat=True)) == ["pve-sim"]
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "online"


def test_an_inactive_or_deleted_server_is_not_checked(sim_server):
    sim_server.is_active = False
    sim_server.save()
    check_server.apply(args=[sim_server.pk])
    check_server.apply(args=[sim_server.pk + 1000])
    assert not ConnectionMetric.objects.exists()


def test_saved_connection_settings_queue_the_check(sim_server, manager_a, settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        server_update(server=sim_server, actor=manager_a, connection_timeout=5)
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "online" and sim_server.metrics.count() == 1


def test_every_beat_entry_expires(settings):
    """A run that waited while workers were down is dropped, not worked off in a pile (django-celery-beat reads
    `expire_seconds`)."""
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["options"]["expire_seconds"] > 0, name


def test_a_chunk_is_acknowledged_late_and_redelivered_when_its_worker_dies():
    assert check_servers.acks_late and check_servers.reject_on_worker_lost


def test_the_sweep_task_sends_one_chunk_task_per_chunk(sim_server, tenant_a, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.HEALTH_CHECK_CHUNK_SIZE = 1
    make_server(tenant_a, "disabled", host="127.0.0.1", port=9, is_active=False)
    gone = make_server(tenant_a, "gone", host="127.0.0.1", port=9)
    run_health_checks.apply()
    assert sorted(ConnectionMetric.objects.values_list("server__name", flat=True)) == ["gone", "pve-sim"]
    run_health_checks.apply()  # the same interval: nothing again
    assert ConnectionMetric.objects.count() == 2
    gone.refresh_from_db()
    assert gone.consecutive_failures == 1


def test_a_changed_address_forgets_what_the_checks_learned(sim_server, manager_a):
    sim_server.learned_timeout_ms, sim_server.consecutive_failures = 4000, 3
    sim_server.save()
    server_update(server=sim_server, actor=manager_a, port=sim_server.port + 1)
    sim_server.refresh_from_db()
    assert sim_server.learned_timeout_ms is None and sim_server.consecutive_failures == 0


def test_saving_a_server_leaves_a_running_check_s_lease_alone(sim_server, manager_a):
    until = timezone.now() + timedelta(minutes=1)
    ProxmoxServer.objects.filter(pk=sim_server.pk).update(health_lease="a-chunk", health_lease_until=until)
    server_update(server=sim_server, actor=manager_a, name="renamed")  # sim_server holds no lease in memory
    saved = ProxmoxServer.objects.get(pk=sim_server.pk)
    assert saved.name == "renamed" and saved.health_lease == "a-chunk"
