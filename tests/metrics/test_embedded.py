"""Embedded mode: the scheduler thread's rounds (called here directly: tests never start the thread) and the
healthcheck command."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from console.services import HEARTBEAT_LOST
from metrics import scheduler
from metrics.models import ConnectionMetric
from tests.conftest import make_console_session, make_server


def test_a_round_sweeps_every_active_server(sim_server, tenant_a, settings):
    settings.HEALTH_CHECK_CHUNK_SIZE = 1
    gone = make_server(tenant_a, "gone", host="127.0.0.1", port=9)
    scheduler._sweep()
    assert set(ConnectionMetric.objects.values_list("server_id", "success")) == {
        (sim_server.pk, True),
        (gone.pk, False),
    }


def test_a_saved_server_is_checked_at_the_next_round(sim_server):
    scheduler.embedded_check_soon(sim_server.pk)
    scheduler._check_saved()
    sim_server.refresh_from_db()
    assert sim_server.connection_status == "online"
    scheduler._check_saved()  # once
    assert ConnectionMetric.objects.count() == 1


def test_the_command_checks_and_prints(sim_server, tenant_a, capsys):
    make_server(tenant_a, "gone", host="127.0.0.1", port=9)
    call_command("healthcheck")
    out, err = capsys.readouterr()
    assert "tenant-a/pve-sim: online (" in out and "tenant-a/gone: unknown (Cannot connect" in out
    assert "did not answer" in err


def test_the_command_checks_one_server(sim_server, tenant_a, capsys):
    make_server(tenant_a, "gone", host="127.0.0.1", port=9)
    call_command("healthcheck", server=sim_server.pk)
    assert capsys.readouterr().out.startswith("tenant-a/pve-sim: online")
    with pytest.raises(CommandError):
        call_command("healthcheck", server=sim_server.pk + 1000)


def test_the_server_page_shows_the_learned_timeout_and_the_probe(client, viewer_a, server_a):
    server_a.learned_timeout_ms, server_a.console_probe, server_a.console_probe_vmid = 1234, True, 100
    server_a.save()
    client.force_login(viewer_a)
    page = client.get(f"/servers/{server_a.pk}/").content.decode()
    assert "checks time out after 1234 ms (learned)" in page and "console probed on guest 100" in page


def test_beats_other_entries_run_in_the_thread_on_their_schedules(manager_a, server_a):
    """Without beat, consoles whose relay stopped beating (e.g. of a killed demo process) are closed all the same."""
    long_ago = timezone.now() - HEARTBEAT_LOST - timedelta(seconds=1)
    lost = make_console_session(
        manager_a, server_a, token_expires_at=long_ago, opened_at=long_ago, last_seen_at=long_ago
    )
    next_runs = {}
    scheduler._beat_entries_run_due(next_runs)
    lost.refresh_from_db()
    assert lost.close_reason == "relay_lost"
    assert set(next_runs) == {"metrics.tasks.prune_metrics", "console.tasks.close_stale_sessions"}
    lost.close_reason = ""
    lost.save()
    scheduler._beat_entries_run_due(next_runs)  # not due again for a while
    lost.refresh_from_db()
    assert lost.close_reason == ""
