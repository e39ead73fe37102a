"""Prometheus metrics (prometheus-client): what every process counts, and the /metrics answer.

Several processes on one host (web processes, Celery workers and their children) share one set of figures when
PROMETHEUS_MULTIPROC_DIR names a directory they all write to (emptied before they start, as `make cluster` does):
then any web process answers /metrics for the whole host, and per-process gauges carry a `pid` label. Without it
each process counts alone (the demo, the tests).

/metrics needs no login: it answers a client inside METRICS_ALLOWED_NETWORKS (loopback by default; the client as
nexus.http sees it, so behind a balancer the real client) or one sending `Authorization: Bearer <METRICS_TOKEN>`;
anyone else gets 404, as for a page that does not exist.

Imports no app: the apps call the observe_* functions, nexus.apps hooks the Proxmox client and Celery's signals.
"""

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotFound
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .http import client_ip

# Opening a console: database, Proxmox calls, TLS; from a few milliseconds alone to seconds in a burst.
OPENING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Round trips through the relay and of Proxmox calls: sub-millisecond on a LAN, seconds when something is wrong.
ROUND_TRIP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Per process: with several, a `pid` label each (the balance between them); sum() for the host.
CONSOLES_OPEN = Gauge(
    "nexus_consoles_open", "Consoles this web process holds now: opening or relayed.", multiprocess_mode="liveall"
)
CONSOLE_BYTES = Counter("nexus_console_bytes", "Console bytes relayed, by direction.", ["direction"])
CONSOLE_OPENS = Counter(
    "nexus_console_opens",
    "Console WebSockets by how their opening ended: opened, refused (token), busy, or the close reason.",
    ["outcome"],
)
CONSOLE_CLOSES = Counter("nexus_console_closes", "Consoles that ended, by close reason.", ["reason"])
CONSOLE_CLAIM = Histogram(
    "nexus_console_claim_seconds", "Checking and using a console's one-time token.", buckets=OPENING_BUCKETS
)
CONSOLE_ADMISSION_WAIT = Histogram(
    "nexus_console_admission_wait_seconds",
    "Time a console waited for its turn to open its upstream.",
    buckets=OPENING_BUCKETS,
)
CONSOLE_UPSTREAM_OPEN = Histogram(
    "nexus_console_upstream_open_seconds",
    "Opening a console on Proxmox: vncproxy, then the vncwebsocket.",
    buckets=OPENING_BUCKETS,
)
CONSOLE_FIRST_FRAME = Histogram(
    "nexus_console_first_frame_seconds",
    "From the browser's WebSocket to the relayed RFB handshake (the guest's screen can be drawn).",
    buckets=OPENING_BUCKETS,
)
CONSOLE_ROUND_TRIP = Histogram(
    "nexus_console_round_trip_seconds",
    "Round trips of the relay's keepalive pings to Proxmox.",
    buckets=ROUND_TRIP_BUCKETS,
)
PROXMOX_CALLS = Histogram(
    "nexus_proxmox_api_call_seconds",
    "Proxmox API calls by method and outcome (ok, or the error).",
    ["method", "outcome"],
    buckets=ROUND_TRIP_BUCKETS,
)
HEALTH_CHECKS = Histogram(
    "nexus_health_check_seconds",
    "Health checks of Proxmox servers by result.",
    ["result"],
    buckets=ROUND_TRIP_BUCKETS,
)
CELERY_TASKS = Counter("nexus_celery_tasks", "Celery tasks by name and outcome.", ["task", "outcome"])


def observe_proxmox_call(method: str, outcome: str, seconds: float) -> None:
    PROXMOX_CALLS.labels(method=method, outcome=outcome).observe(seconds)


def observe_health_check(*, success: bool, seconds: float) -> None:
    HEALTH_CHECKS.labels(result="ok" if success else "failed").observe(seconds)


def observe_celery_task(*, task: str, outcome: str) -> None:
    CELERY_TASKS.labels(task=task, outcome=outcome).inc()


def _registry() -> CollectorRegistry | None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    address = client_ip(request)
    if address is None:
        return False
    return any(ipaddress.ip_address(address) in network for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics_response(request) -> HttpResponse:
    if not _allowed(request):
        return HttpResponseNotFound()
    registry = _registry()
    body = generate_latest(registry) if registry is not None else generate_latest()
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
