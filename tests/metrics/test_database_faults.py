"""The health checks ride through a database that drops their connection (PostgreSQL only: SQLite has none)."""

import pytest
from django.db import connection

from metrics import services
from metrics.models import ConnectionMetric

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="kills a PostgreSQL backend")


def _terminate(pid: int) -> None:
    """From a connection of its own, as an operator or a restart would."""
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


def test_a_connection_killed_while_results_are_written_is_retried(transactional_db, sim_server, monkeypatch):
    record, killed = services._record, []

    def record_after_the_kill(outcomes):
        if not killed:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                killed.append(cursor.fetchone()[0])
            _terminate(killed[0])
        return record(outcomes)

    monkeypatch.setattr(services, "_record", record_after_the_kill)
    [metric] = services.servers_health_check(servers=[sim_server])
    assert killed and metric.success
    assert ConnectionMetric.objects.filter(server=sim_server).count() == 1
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "online" and sim_server.health_lease == ""
