"""metrics.tasks: the first health check of a server whose connection settings were just saved."""

from metrics.models import ConnectionMetric
from metrics.tasks import check_server
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
    from metrics.tasks import check_servers

    assert check_servers.acks_late and check_servers.reject_on_worker_lost
