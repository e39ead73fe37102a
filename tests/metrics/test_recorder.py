"""Metrics of calls made for users: buffered in the process, written in batches."""

from metrics.models import ConnectionMetric
from metrics.recorder import metric_record, metrics_flush
from vms.selectors import guests_for_user


def test_calls_wait_in_the_buffer_until_it_is_full(server_a, settings, django_assert_num_queries):
    settings.METRICS_FLUSH_ROWS = 3
    with django_assert_num_queries(0):
        metric_record(server_id=server_a.pk, kind="power", success=True, elapsed=0.012)
        metric_record(server_id=server_a.pk, kind="power", success=False, elapsed=None, error="refused")
    with django_assert_num_queries(2):  # which servers still exist, one insert
        metric_record(server_id=server_a.pk, kind="console", success=True, elapsed=0.5)
    assert sorted(ConnectionMetric.objects.values_list("kind", "success", "response_time_ms")) == [
        ("console", True, 500),
        ("power", False, None),
        ("power", True, 12),
    ]


def test_rows_of_a_deleted_server_are_dropped(server_a, tenant_a):
    metric_record(server_id=server_a.pk + 1000, kind="power", success=True, elapsed=0.1)
    metric_record(server_id=server_a.pk, kind="power", success=True, elapsed=0.1)
    assert metrics_flush() == 1


def test_a_guest_list_records_one_metric_per_server_asked(manager_a, sim_server):
    listing = guests_for_user(manager_a, fresh=True)
    assert listing.guests and not ConnectionMetric.objects.exists()
    assert metrics_flush() == 1
    [metric] = ConnectionMetric.objects.all()
    assert metric.kind == "guest_list" and metric.success and metric.response_time_ms is not None
