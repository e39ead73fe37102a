"""Two web processes (the Procfile's command) behind HAProxy, on the test database (PostgreSQL) and Redis.

The processes are subprocesses of the test: they see what a test commits (`transactional_db`), share the test's
secret key and encryption keys, and reach the simulator the test process runs. Without PostgreSQL and Redis
(DATABASE_URL, REDIS_URL) there is nothing to share between processes: the tests skip and say so.
"""

import os

import pytest
from django.conf import settings
from django.db import connections

from nexus.cluster import LocalCluster, haproxy_missing
from tests.e2e.conftest import chromium_executable  # noqa: F401  (a fixture the browser test here uses too)

pytestmark = pytest.mark.cluster


def _database_url() -> str:
    database = connections["default"].settings_dict
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    where = f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
    return f"postgres://{database['USER']}{password}@{where}/{database['NAME']}"


@pytest.fixture
def local_cluster(transactional_db, tmp_path):
    if connections["default"].vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("the cluster tests need PostgreSQL and Redis (DATABASE_URL, REDIS_URL) for several processes")
    if why := haproxy_missing():
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    env = {
        **os.environ,
        "DEBUG": "true",  # plain HTTP on loopback: cookies without Secure
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": settings.SECRET_KEY,
        "ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "TRUSTED_PROXY_COUNT": "1",
        "METRICS_ALLOWED_NETWORKS": "127.0.0.0/8",
        "LOG_LEVEL": "WARNING",
    }
    with open(tmp_path / "cluster.log", "wb") as log:
        cluster = LocalCluster(env=env, workdir=tmp_path, log=log)
        try:
            yield cluster.start()
        finally:
            cluster.stop()
