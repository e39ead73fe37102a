"""The sweep in real `celery worker` and `celery beat` processes against Redis and the test database (PostgreSQL):
chunks spread over two workers, two beats still sweep once per interval, a killed worker's chunk is redone once,
sweeps queued while no worker ran expire. Short intervals through the environment; marked `celery`
(`pytest -m celery` runs them alone)."""

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from metrics.models import ConnectionMetric
from metrics.services import SWEEP_SLOT_KEY
from metrics.tasks import check_servers
from servers.models import ProxmoxServer
from tests.conftest import make_server

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 2

pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="needs REDIS_URL and a PostgreSQL DATABASE_URL: the worker and beat share the test database",
    ),
]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Processes:
    def __init__(self, tmp_path: Path, env: dict):
        self.tmp_path, self.env, self.running = tmp_path, env, {}

    def start(self, name: str, *args: str) -> None:
        command = [sys.executable, "-m", "celery", "-A", "nexus", *args, "-l", "info"]
        with open(self.tmp_path / f"{name}.log", "w") as log:  # the process keeps its own copy of the descriptor
            self.running[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def worker(self, name: str) -> None:
        queue = self.env["CELERY_QUEUE"]
        self.start(name, "worker", "-n", f"{name}@%h", "-Q", queue, "-P", "threads", "-c", "4", "--without-gossip")

    def beat(self, name: str) -> None:
        self.start(name, "beat", "-s", str(self.tmp_path / f"{name}-schedule"))

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def stop(self, name: str, sig=signal.SIGTERM) -> None:
        process = self.running.pop(name)
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


@pytest.fixture
def celery(transactional_db, tmp_path, pve):
    queue = f"nexus-health-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        "DATA_DIR": str(tmp_path),
        "DEBUG": "true",
        "CELERY_QUEUE": queue,
        "HEALTH_CHECK_INTERVAL": str(INTERVAL),
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "HEALTH_CHECK_CHUNK_SIZE": "20",
    }
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in broker.scan_iter(f"*{SWEEP_SLOT_KEY}"):
        broker.delete(key)
    processes = Processes(tmp_path, env)
    yield processes
    processes.stop_all()
    broker.delete(queue)


def _wait_for(condition, timeout: float, what: str) -> None:
    ends = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < ends, f"waited {timeout} s for {what}"
        time.sleep(0.2)


def _checks_by_server() -> dict[int, list]:
    checks = defaultdict(list)
    metrics = ConnectionMetric.objects.filter(kind=ConnectionMetric.Kind.HEALTH_CHECK).order_by("timestamp")
    for server_id, timestamp in metrics.values_list("server_id", "timestamp"):
        checks[server_id].append(timestamp)
    return checks


def _assert_never_twice_in_one_interval(checks: dict[int, list]) -> None:
    for server_id, times in checks.items():
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= timedelta(seconds=INTERVAL / 2) for gap in gaps), (server_id, times)


def _servers(tenant, pve, count: int) -> list[ProxmoxServer]:
    return [make_server(tenant, f"pve-{n}", **pve.connection_settings()) for n in range(count)]


def test_two_workers_share_the_sweep_and_two_beats_still_sweep_once_per_interval(celery, tenant_a, pve):
    servers = _servers(tenant_a, pve, 200)
    celery.worker("w1")
    celery.worker("w2")
    celery.beat("beat1")
    celery.beat("beat2")  # by mistake
    _wait_for(lambda: len(_checks_by_server()) == len(servers), 90, "every server's first check")
    time.sleep(2 * INTERVAL)
    celery.stop_all()

    _assert_never_twice_in_one_interval(_checks_by_server())
    for worker in ("w1", "w2"):
        assert "metrics.tasks.check_servers" in celery.log(worker) and "succeeded" in celery.log(worker), worker
    assert ProxmoxServer.objects.filter(connection_status="online").count() == len(servers)


def test_a_killed_worker_s_chunk_is_done_by_another_once(celery, tenant_a, pve):
    servers = _servers(tenant_a, pve, 5)
    pve.faults.latency = 3  # the chunk is still being checked when its worker dies
    celery.worker("doomed")
    check_servers.apply_async(
        args=[[server.pk for server in servers], timezone.now().isoformat()], queue=celery.env["CELERY_QUEUE"]
    )
    _wait_for(lambda: ProxmoxServer.objects.exclude(health_lease="").count() == 5, 30, "the chunk's leases")
    celery.stop("doomed", signal.SIGKILL)
    assert not ConnectionMetric.objects.exists()
    celery.worker("survivor")
    _wait_for(lambda: ConnectionMetric.objects.count() >= 5, 60, "the chunk redelivered")
    time.sleep(1)
    assert sorted(ConnectionMetric.objects.values_list("server_id", flat=True)) == sorted(s.pk for s in servers)


def test_sweeps_queued_while_no_worker_ran_expire_instead_of_piling_up(celery, tenant_a, pve):
    _servers(tenant_a, pve, 3)
    celery.beat("beat")
    time.sleep(4 * INTERVAL)  # sweeps queue up with nobody to run them
    celery.worker("late")
    _wait_for(lambda: len(_checks_by_server()) == 3, 30, "the first checks")
    time.sleep(INTERVAL)
    celery.stop_all()
    assert "Discarding revoked task: metrics.tasks.run_health_checks" in celery.log("late")
    _assert_never_twice_in_one_interval(_checks_by_server())
