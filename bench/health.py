"""Health check benchmark: one sweep over 1000 servers (healthy, slow and dead mixed) and the 24-hour bucket query
with a year of figures against a day of them.

Sweep: 1000 server rows spread round-robin over simulated clusters (most healthy, some answering `--slow` seconds
late, some hanging), split in chunks of HEALTH_CHECK_CHUNK_SIZE and worked off by `--workers` threads (each stands
for one chunk a Celery worker process checks at a time) through the same service the Celery chunk task calls.
Measured twice: cold (no server has learned its timeout: a dead one costs its connection timeout) and after the
servers learned their timeouts from a healthy sweep (a dead one costs its learned timeout). The simulator runs in
this process and shares its cores. Target: well within the 60 s interval.

Buckets: `server_hourly_buckets` for all 1000 servers over 24 hours, with a day of hourly rollups and with a year of
them (8.76 million rows); target ratio near 1 (the rollup's (server, hour) index reads 24 rows per server).

Uses DATABASE_URL when it names PostgreSQL, else a SQLite file in a temporary folder (the workers are threads with
connections of their own).

    .venv/bin/python bench/health.py [--servers 1000] [--workers N] [--slow 0.8] [--timeout 5] [--days 365]
"""

import argparse
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='nexus-bench-')}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
os.environ.setdefault("LOG_LEVEL", "ERROR")
os.environ["REDIS_URL"] = ""  # the events go nowhere; the sweep slot is not needed here

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import close_old_connections, connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from metrics.models import HourlyRollup  # noqa: E402
from metrics.selectors import hour_start, server_hourly_buckets  # noqa: E402
from metrics.services import servers_health_check_chunk  # noqa: E402
from servers.models import ProxmoxServer  # noqa: E402
from servers.pvesim import Simulator  # noqa: E402
from tenants.models import Tenant  # noqa: E402

CLUSTERS = 10  # simulated clusters the server rows point at: 8 healthy, 1 slow, 1 hanging


def add_servers(count: int, sims, timeout: int) -> list[int]:
    tenant = Tenant.objects.create(name="Bench", slug="bench", max_servers=count)
    servers = []
    for index in range(count):
        connection_settings = sims[index % len(sims)].connection_settings()
        secret = connection_settings.pop("token_secret")
        server = ProxmoxServer(tenant=tenant, name=f"pve-{index}", connection_timeout=timeout, **connection_settings)
        server.token_secret = secret
        servers.append(server)
    return [server.pk for server in ProxmoxServer.objects.bulk_create(servers)]


def sweep(server_ids: list[int], workers: int) -> float:
    """Seconds until every chunk is done, the chunks worked off by `workers` threads."""
    size = settings.HEALTH_CHECK_CHUNK_SIZE
    chunks: queue.Queue = queue.Queue()
    for at in range(0, len(server_ids), size):
        chunks.put(server_ids[at : at + size])

    def work(name: str) -> None:
        while True:
            try:
                chunk = chunks.get_nowait()
            except queue.Empty:
                break
            servers_health_check_chunk(server_ids=chunk, holder=name)
        close_old_connections()

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def fill_rollups(server_ids: list[int], first_hour, hours: int) -> None:
    """`hours` hourly rows per server from `first_hour` on, written by the database itself (fast)."""
    table = HourlyRollup._meta.db_table
    columns = "server_id, hour, checks, successes, sum_ms, avg_ms, p95_ms"
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT s, %s::timestamptz + make_interval(hours => h), 60, 59, 2950, 50, "
            f"80 FROM unnest(%s::bigint[]) AS s, generate_series(0, %s - 1) AS h"
        )
        params = [first_hour, server_ids, hours]
    else:
        sql = (
            f"WITH RECURSIVE h(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM h WHERE n < %s - 1) "
            f"INSERT INTO {table} ({columns}) SELECT s.id, strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, '+' || h.n || "
            f"' hours'), 60, 59, 2950, 50, 80 FROM {ProxmoxServer._meta.db_table} AS s, h"
        )
        params = [hours, first_hour.strftime("%Y-%m-%d %H:%M:%S")]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")


def bucket_query(server_ids: list[int], repeat: int = 5) -> float:
    server_hourly_buckets(server_ids=server_ids, hours=24)  # warm the database's cache first
    times = []
    for _ in range(repeat):
        started = time.monotonic()
        buckets = server_hourly_buckets(server_ids=server_ids, hours=24)
        times.append(time.monotonic() - started)
    assert len(buckets) == len(server_ids) and all(len(hours) == 24 for hours in buckets.values())
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="chunks checked at once: Celery workers x their concurrency (default: two per core, as checks wait)",
    )
    parser.add_argument("--slow", type=float, default=0.8, help="seconds the slow cluster adds to each answer")
    parser.add_argument("--timeout", type=int, default=5, help="each server's connection timeout (seconds)")
    parser.add_argument("--days", type=int, default=365, help="days of hourly rollups for the bucket query")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    with Simulator({"cluster": {"task_delay": 0}}, servers=CLUSTERS) as simulator:
        sims = simulator.servers
        slow_sim, hanging_sim = sims[-2], sims[-1]
        server_ids = add_servers(args.servers, sims, args.timeout)
        try:
            learning = sweep(server_ids, args.workers)  # all healthy: every server learns its timeout
            ProxmoxServer.objects.update(learned_timeout_ms=None, consecutive_failures=0)
            slow_sim.faults.latency = args.slow
            hanging_sim.faults.hang = True
            cold = sweep(server_ids, args.workers)  # it learns again from the healthy sweep's times
            learned = sweep(server_ids, args.workers)
            timeouts = sorted(ProxmoxServer.objects.exclude(learned_timeout_ms=None).values_list("learned_timeout_ms"))
            statuses = dict.fromkeys(("online", "degraded", "offline", "unknown"), 0)
            for (status,) in ProxmoxServer.objects.values_list("connection_status"):
                statuses[status] += 1
        finally:
            hanging_sim.reset()  # release the hung requests before stopping

    HourlyRollup.objects.all().delete()
    now = hour_start(timezone.now())
    fill_rollups(server_ids, now - timedelta(hours=23), 24)
    one_day = bucket_query(server_ids)
    started = time.monotonic()
    fill_rollups(server_ids, now - timedelta(days=args.days) + timedelta(hours=1), (args.days - 1) * 24)
    filled = time.monotonic() - started
    rows = HourlyRollup.objects.count()
    one_year = bucket_query(server_ids)

    interval = 60
    dead, slow = args.servers // CLUSTERS, args.servers // CLUSTERS
    print(
        f"servers: {args.servers} over {CLUSTERS} simulated clusters ({dead} hanging, {slow} answering {args.slow:g} s "
        f"late, the rest healthy), chunks of {settings.HEALTH_CHECK_CHUNK_SIZE}, {args.workers} at once, "
        f"{connection.vendor}"
    )
    print(f"healthy sweep (learning): {learning:.1f} s, {args.servers / learning:.0f} servers/s")
    print(
        f"cold sweep (dead servers cost their {args.timeout} s connection timeout): {cold:.1f} s, "
        f"{args.servers / cold:.0f} servers/s, {cold / interval:.0%} of the {interval} s interval"
    )
    print(
        f"sweep with learned timeouts: {learned:.1f} s, {args.servers / learned:.0f} servers/s, "
        f"{learned / interval:.0%} of the interval ({cold / learned:.1f}x faster than cold)"
    )
    if timeouts:
        print(f"learned timeouts: {timeouts[0][0]} ms to {timeouts[-1][0]} ms; statuses after: {statuses}")
    print(
        f"24-hour buckets of {args.servers} servers: {one_day * 1000:.1f} ms with 1 day of rollups, "
        f"{one_year * 1000:.1f} ms with {args.days} days ({rows:,} rows, filled in {filled:.0f} s): "
        f"ratio {one_year / one_day:.2f} (target near 1)"
    )


if __name__ == "__main__":
    main()
