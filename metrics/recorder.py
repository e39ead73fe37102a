"""Metrics of the calls made for users (guest lists, power actions, console opens), recorded without a query per call.

`metric_record` only appends to this process's buffer (safe from threads and from async code); the buffer is
written with one bulk_create once METRICS_FLUSH_ROWS rows wait (by the caller that fills it, when it is not in an
event loop) or METRICS_FLUSH_SECONDS after its first row (by a timer thread; 0 turns the timer off, as the tests
do), and when the process exits. A metric lost to a database error is logged, never fails the user's call.
"""

import asyncio
import atexit
import logging
import threading

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from servers.models import ProxmoxServer

from .models import ConnectionMetric

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_rows: list[ConnectionMetric] = []
_timer: threading.Timer | None = None


def metric_record(*, server_id: int, kind: str, success: bool, elapsed: float | None, error: str = "") -> None:
    """Remember one call: `elapsed` in seconds (None when it never got an answer)."""
    global _timer
    row = ConnectionMetric(
        server_id=server_id,
        timestamp=timezone.now(),
        kind=kind,
        success=success,
        response_time_ms=None if elapsed is None else round(elapsed * 1000),
        error=error[:500],
    )
    with _lock:
        _rows.append(row)
        full = len(_rows) >= settings.METRICS_FLUSH_ROWS
        if _timer is None and settings.METRICS_FLUSH_SECONDS > 0:
            _timer = threading.Timer(settings.METRICS_FLUSH_SECONDS, _flush_from_timer)
            _timer.daemon = True
            _timer.start()
    if full and not _in_event_loop():
        metrics_flush()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _flush_from_timer() -> None:
    global _timer
    with _lock:
        _timer = None
    try:
        metrics_flush()
    finally:
        close_old_connections()


def metrics_flush() -> int:
    """Write what waits (of servers that still exist); returns how many rows were written."""
    with _lock:
        rows = _rows[:]
        _rows.clear()
    if not rows:
        return 0
    try:
        existing = set(
            ProxmoxServer.objects.filter(pk__in={row.server_id for row in rows}).values_list("pk", flat=True)
        )
        return len(ConnectionMetric.objects.bulk_create([row for row in rows if row.server_id in existing]))
    except DatabaseError as error:
        logger.warning("%d call metrics not recorded: %s", len(rows), error)
        return 0


def metrics_discard() -> None:
    """Forget what waits (tests: rows of one test's servers must not reach the next test's database)."""
    with _lock:
        _rows.clear()


atexit.register(metrics_flush)
