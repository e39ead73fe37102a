"""Embedded mode (`make demo`, `runserver`: no Redis, no Celery processes): a thread of the web process runs the
same sweep as beat and the workers, every HEALTH_CHECK_INTERVAL, checks a saved server at once, writes the call
metrics, and runs beat's other entries (pruning metrics, closing consoles whose relay stopped beating) on their
schedules, by name. Started by the demo and runserver only; never in tests or production, where
`celery beat` and `celery worker` do this."""

import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

from .recorder import metrics_flush
from .services import health_sweep_start, servers_health_check, servers_health_check_chunk

logger = logging.getLogger(__name__)

# Beat's sweep sends chunk tasks to workers; here the sweep runs its chunks itself (_sweep).
SWEEP_TASK = "metrics.tasks.run_health_checks"

_thread: threading.Thread | None = None
_wake = threading.Event()
_saved: set[int] = set()
_lock = threading.Lock()


def embedded_scheduler_running() -> bool:
    return _thread is not None and _thread.is_alive()


def embedded_scheduler_start() -> None:
    global _thread
    if embedded_scheduler_running():
        return
    _thread = threading.Thread(target=_run, name="nexus-health-scheduler", daemon=True)
    _thread.start()
    logger.info("embedded health scheduler: a sweep every %s s", settings.HEALTH_CHECK_INTERVAL)


def embedded_check_soon(server_id: int) -> None:
    """A server's settings were saved: check it now rather than at the next sweep."""
    with _lock:
        _saved.add(server_id)
    _wake.set()


def _run() -> None:
    next_sweep = 0.0
    next_runs = {entry["task"]: time.monotonic() + entry["schedule"] for entry in _beat_entries()}
    while True:
        try:
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + settings.HEALTH_CHECK_INTERVAL
                _sweep()
            _check_saved()
            _beat_entries_run_due(next_runs)
            metrics_flush()
        except Exception:  # a bad round must not end the checks for good
            logger.exception("embedded health scheduler")
        finally:
            close_old_connections()
        _wake.wait(max(0.1, min(next_sweep - time.monotonic(), settings.METRICS_FLUSH_SECONDS or 5)))
        _wake.clear()


def _beat_entries() -> list[dict]:
    return [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] != SWEEP_TASK]


def _beat_entries_run_due(next_runs: dict[str, float]) -> None:
    """Run each of beat's other entries whose time has come (next_runs: task name -> monotonic time), then set its
    next time."""
    for entry in _beat_entries():
        if time.monotonic() >= next_runs.get(entry["task"], 0):
            next_runs[entry["task"]] = time.monotonic() + entry["schedule"]
            import_string(entry["task"])()  # a Celery task called directly runs here, now


def _sweep() -> None:
    sweep = health_sweep_start()
    if sweep is None:
        return
    for server_ids in sweep.chunks:
        servers_health_check_chunk(server_ids=server_ids, holder=f"embedded-{os.getpid()}", sweep_started=sweep.started)


def _check_saved() -> None:
    with _lock:
        server_ids = list(_saved)
        _saved.clear()
    if server_ids:
        from servers.models import ProxmoxServer

        servers_health_check(servers=ProxmoxServer.objects.filter(pk__in=server_ids, is_active=True))
