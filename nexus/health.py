"""/healthz and /readyz for balancers and orchestrators: no login, no detail; /metrics for Prometheus (nexus.telemetry
decides who may read it).

They answer before any other middleware, so neither the host name a balancer uses (an address, not one of
ALLOWED_HOSTS) nor the redirect to HTTPS gets in their way.

- /healthz: the process is alive and serving.
- /readyz: it can reach PostgreSQL and Redis now (each bounded by a short timeout); 503 when it cannot.
"""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from .telemetry import metrics_response

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception as error:  # any failure means not ready; the reason goes to the log only
        logger.warning("readyz: the database does not answer: %s", error)
        return False


def redis_answers() -> bool:
    """Whether Redis (the channel layer and the broker) answers now; always in embedded mode."""
    if not settings.REDIS_URL:
        return True  # embedded mode: nothing to reach
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
        )
        with client:
            return bool(client.ping())
    except redis.RedisError as error:
        logger.warning("Redis does not answer: %s", error)
        return False


def health_endpoints(get_response):
    def middleware(request):
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            ready = _database_answers() and redis_answers()
            return JsonResponse({"status": "ready" if ready else "unavailable"}, status=200 if ready else 503)
        if request.path == "/metrics":
            return metrics_response(request)
        return get_response(request)

    return middleware
